// Command helm-render renders a Helm chart with the engine Helm itself uses: Go's text/template
// with the Sprig function library, plus Helm's own functions (include, tpl, required, toYaml,
// fromYaml, toJson, fromJson, lookup) and built-in objects (.Values, .Release, .Chart,
// .Capabilities, .Template, .Files). It stands in for `helm template`, which Debian does not
// package: Go, Sprig and the YAML libraries are Debian packages that build offline in GOPATH mode:
//
//	GO111MODULE=off GOPATH=$(mktemp -d):/usr/share/gocode go build -o helm-render test/helm/render.go
//
// Usage, for people: helm-render -chart helm/ringcache [-f values.yaml ...] [-name demo] [-namespace ns]
// prints the manifests as `helm template` does (NOTES.txt last, as a comment).
//
// Usage, for tests: helm-render -batch reads {"chart": DIR, "release": {...}, "cases": [{"values": {...}}]}
// on stdin and writes [{"files": {"templates/x.yaml": "..."}} | {"error": "..."}] on stdout.
//
// Like Helm: values files are parsed through sigs.k8s.io/yaml (numbers are float64), user values
// are merged over the chart's (maps merge, null deletes a key), templates run with
// missingkey=zero and "<no value>" is printed as "", `env` and `expandenv` are removed, files
// whose name starts with "_" only define templates, and `lookup` finds nothing (no cluster).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

// Release mirrors the fields of Helm's .Release.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
	IsInstall bool   `json:"isInstall"`
	IsUpgrade bool   `json:"isUpgrade"`
	Service   string `json:"-"`
}

// KubeVersion mirrors .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

// APIVersions mirrors .Capabilities.APIVersions (Has "group/version" or "group/version/Kind").
type APIVersions []string

// Has reports whether the API version (or version/kind) is known.
func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// Capabilities mirrors Helm's .Capabilities for a fixed Kubernetes version.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions APIVersions
}

// Files mirrors .Files: the chart's files outside templates/.
type Files map[string][]byte

// Get returns a file's content, or "" when there is none.
func (f Files) Get(name string) string { return string(f[name]) }

// Chart is a loaded chart directory.
type Chart struct {
	Dir       string
	Metadata  map[string]interface{}
	Values    map[string]interface{}
	Templates map[string]string // "templates/x.yaml" -> text
	Files     Files
}

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func loadChart(dir string) (*Chart, error) {
	meta, err := readYAML(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	values, err := readYAML(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	c := &Chart{Dir: dir, Metadata: meta, Values: values, Templates: map[string]string{}, Files: Files{}}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			c.Templates[rel] = string(data)
		case rel != "Chart.yaml" && rel != "values.yaml":
			c.Files[rel] = data
		}
		return nil
	})
	return c, err
}

// coalesce merges user values over the chart's, as Helm does: maps merge, null deletes, anything else replaces.
func coalesce(base, over map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

const recursionLimit = 1000

// render runs every template of the chart with these values; it returns file -> text.
func render(c *Chart, release Release, userValues map[string]interface{}) (map[string]string, error) {
	values := coalesce(c.Values, userValues)
	chartName, _ := c.Metadata["name"].(string)
	chartObj := map[string]interface{}{}
	for k, v := range c.Metadata {
		// Chart.yaml keys as Helm's Metadata fields: name -> Name, appVersion -> AppVersion.
		chartObj[strings.ToUpper(k[:1])+k[1:]] = v
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30", GitVersion: "v1.30.0"},
		APIVersions: APIVersions{"v1", "apps/v1", "networking.k8s.io/v1", "policy/v1"},
	}
	release.Service = "Helm"

	t := template.New("gotpl").Option("missingkey=zero")
	includedNames := map[string]int{}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = toJSON
	funcs["fromYaml"] = fromYAML
	funcs["fromJson"] = fromJSON
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warn)
		}
		return val, nil
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > recursionLimit {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		parsed, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := parsed.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(c.Templates))
	for name := range c.Templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := t.New(chartName + "/" + name).Parse(c.Templates[name]); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        chartObj,
			"Capabilities": caps,
			"Files":        c.Files,
			"Template":     map[string]interface{}{"Name": chartName + "/" + name, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, chartName+"/"+name, top); err != nil {
			return nil, err
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

type batchInput struct {
	Chart   string  `json:"chart"`
	Release Release `json:"release"`
	Cases   []struct {
		Values map[string]interface{} `json:"values"`
	} `json:"cases"`
}

type batchResult struct {
	Files map[string]string `json:"files,omitempty"`
	Error string            `json:"error,omitempty"`
}

func batch() error {
	var in batchInput
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading the batch from stdin: %w", err)
	}
	chart, err := loadChart(in.Chart)
	if err != nil {
		return err
	}
	results := make([]batchResult, 0, len(in.Cases))
	for _, c := range in.Cases {
		files, err := render(chart, in.Release, c.Values)
		if err != nil {
			results = append(results, batchResult{Error: err.Error()})
		} else {
			results = append(results, batchResult{Files: files})
		}
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	var files valueFiles
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	batchMode := flag.Bool("batch", false, "read a JSON batch on stdin, write JSON results")
	flag.Var(&files, "f", "values file (YAML or JSON), may repeat")
	flag.Parse()
	if *batchMode {
		if err := batch(); err != nil {
			fmt.Fprintln(os.Stderr, "helm-render:", err)
			os.Exit(1)
		}
		return
	}
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "usage: helm-render -chart DIR [-f values.yaml ...] [-name NAME] [-namespace NS] | -batch")
		os.Exit(2)
	}
	chart, err := loadChart(*chartDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
	user := map[string]interface{}{}
	for _, f := range files {
		v, err := readYAML(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helm-render:", err)
			os.Exit(1)
		}
		user = coalesce(user, v)
	}
	out, err := render(chart, Release{Name: *name, Namespace: *namespace, Revision: 1, IsInstall: true}, user)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	chartName, _ := chart.Metadata["name"].(string)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(out[n]) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s/%s\n%s\n", chartName, n, strings.TrimSpace(out[n]))
	}
	if notes, ok := out["templates/NOTES.txt"]; ok {
		fmt.Printf("\n# NOTES:\n# %s\n", strings.ReplaceAll(strings.TrimSpace(notes), "\n", "\n# "))
	}
}

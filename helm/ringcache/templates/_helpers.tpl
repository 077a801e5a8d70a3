{{/*
Chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "ringcache.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the
chart name.
*/}}
{{- define "ringcache.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ringcache.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ringcache.labels" -}}
helm.sh/chart: {{ include "ringcache.chart" . }}
{{ include "ringcache.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ringcache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ringcache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The headless Service: stable pod DNS <pod>.<headless>.<namespace>.svc (the cluster's node addresses).
*/}}
{{- define "ringcache.headlessServiceName" -}}
{{- printf "%s-headless" (include "ringcache.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ringcache.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ringcache.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ringcache.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}
{{- end }}

{{/* The Secret holding ringcache.json. */}}
{{- define "ringcache.configSecretName" -}}
{{- printf "%s-config" (include "ringcache.fullname" .) }}
{{- end }}

{{/* The Secret holding the single full-access key (existingSecret, or the chart's own). */}}
{{- define "ringcache.authSecretName" -}}
{{- default (printf "%s-auth" (include "ringcache.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/*
"true" when the single-key mode is on: no auth.credentials list, so the key reaches the pod as
RINGCACHE_ACCESS_KEY_ID / RINGCACHE_SECRET_ACCESS_KEY.
*/}}
{{- define "ringcache.singleKey" -}}
{{- if not .Values.auth.credentials }}true{{ end }}
{{- end }}

{{/* "true" when the chart creates the single-key Secret <fullname>-auth. */}}
{{- define "ringcache.createAuthSecret" -}}
{{- if and (not .Values.auth.credentials) (not .Values.auth.existingSecret) }}true{{ end }}
{{- end }}

{{/* The Secret holding the cluster secret (existingSecret, or the chart's own) and its key. */}}
{{- define "ringcache.clusterSecretName" -}}
{{- default (printf "%s-cluster" (include "ringcache.fullname" .)) .Values.cluster.existingSecret }}
{{- end }}

{{- define "ringcache.clusterSecretKey" -}}
{{- if .Values.cluster.existingSecret }}{{ .Values.cluster.existingSecretKey }}{{ else }}secret{{ end }}
{{- end }}

{{/* "true" when the chart creates the cluster Secret <fullname>-cluster. */}}
{{- define "ringcache.createClusterSecret" -}}
{{- if and .Values.cluster.enabled (not .Values.cluster.existingSecret) }}true{{ end }}
{{- end }}

{{/* Pod DNS suffix: pod N is <fullname>-N.<this>, through the headless Service. */}}
{{- define "ringcache.podDomain" -}}
{{- printf "%s.%s.svc.%s" (include "ringcache.headlessServiceName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* Static peers, RINGCACHE_PEERS: <pod>=http://<pod>.<podDomain>:<port> for pods 0..replicaCount-1. */}}
{{- define "ringcache.staticPeers" -}}
{{- $fullName := include "ringcache.fullname" . }}
{{- $domain := include "ringcache.podDomain" . }}
{{- $port := .Values.config.server.port }}
{{- range $i := until (int .Values.replicaCount) }}
{{- if $i }},{{ end }}{{ printf "%s-%v=http://%s-%v.%s:%v" $fullName $i $fullName $i $domain $port }}
{{- end }}
{{- end }}

{{/* "true" when cluster mode finds its members through Consul. */}}
{{- define "ringcache.consulDiscovery" -}}
{{- if and .Values.cluster.enabled (eq (toString .Values.cluster.discovery) "consul") }}true{{ end }}
{{- end }}

{{- define "ringcache.consulServiceName" -}}
{{- default (printf "%s-%s" (include "ringcache.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-") .Values.cluster.consul.serviceName }}
{{- end }}

{{/*
Fails the render on settings the gateway would reject, or that would silently do something else.
*/}}
{{- define "ringcache.validate" -}}
{{- $cluster := .Values.cluster }}
{{- if $cluster.enabled }}
{{- if not (or (eq (toString $cluster.discovery) "static") (eq (toString $cluster.discovery) "consul")) }}
{{- fail (printf "cluster.discovery: %q is not static or consul" (toString $cluster.discovery)) }}
{{- end }}
{{- if not (or (eq (toString $cluster.routing) "proxy") (eq (toString $cluster.routing) "redirect")) }}
{{- fail (printf "cluster.routing: %q is not proxy or redirect" (toString $cluster.routing)) }}
{{- end }}
{{- if and $cluster.secret $cluster.existingSecret }}
{{- fail "cluster.secret excludes cluster.existingSecret" }}
{{- end }}
{{- if and $cluster.secret (lt (len (toString $cluster.secret)) 16) }}
{{- fail "cluster.secret must be at least 16 characters (or leave it empty for a random one)" }}
{{- end }}
{{- if and (include "ringcache.consulDiscovery" .) (not $cluster.consul.url) }}
{{- fail "cluster.consul.url is required with cluster.discovery: consul (e.g. http://$(HOST_IP):8500 for an agent on every node)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) .Values.config.dataDir (not $cluster.allowPerPodDataDir) }}
{{- fail "config.dataDir with cluster.enabled and replicaCount > 1: each pod's dataDir is on its own PVC, so its buckets would be split between pods. Serve shared stores through mounts (NFS or ReadWriteMany PVC) and set config.dataDir: \"\", or set cluster.allowPerPodDataDir: true" }}
{{- end }}
{{- end }}
{{- $auth := .Values.auth }}
{{- if $auth.credentials }}
{{- if or $auth.existingSecret $auth.accessKeyId $auth.secretAccessKey }}
{{- fail "auth.credentials excludes auth.existingSecret, auth.accessKeyId and auth.secretAccessKey (the single key would replace the whole credential list)" }}
{{- end }}
{{- range $i, $c := $auth.credentials }}
{{- if not (and (kindIs "map" $c) $c.accessKeyId $c.secretAccessKey) }}
{{- fail (printf "auth.credentials[%v]: accessKeyId and secretAccessKey are required" $i) }}
{{- end }}
{{- end }}
{{- else if $auth.existingSecret }}
{{- if or $auth.accessKeyId $auth.secretAccessKey }}
{{- fail "auth.existingSecret excludes auth.accessKeyId and auth.secretAccessKey" }}
{{- end }}
{{- else if or $auth.accessKeyId $auth.secretAccessKey }}
{{- if not (and $auth.accessKeyId $auth.secretAccessKey) }}
{{- fail "auth: set both accessKeyId and secretAccessKey, or neither (then a random pair is generated)" }}
{{- end }}
{{- end }}
{{- if and (not .Values.config.dataDir) (not .Values.mounts) }}
{{- fail "set config.dataDir, at least one entry of mounts, or both" }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $m := .Values.mounts }}
{{- if not (kindIs "map" $m) }}
{{- fail (printf "mounts[%v]: must be a map with bucket and nfs or persistentVolumeClaim" $i) }}
{{- end }}
{{- $bucket := toString $m.bucket }}
{{- if not (regexMatch "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$" $bucket) }}
{{- fail (printf "mounts[%v].bucket: %q is not a valid bucket name" $i $bucket) }}
{{- end }}
{{- if hasKey $seen $bucket }}
{{- fail (printf "mounts[%v].bucket: %q is mounted twice" $i $bucket) }}
{{- end }}
{{- $_ := set $seen $bucket true }}
{{- if and $m.nfs $m.persistentVolumeClaim }}
{{- fail (printf "mounts[%v] (%s): give nfs or persistentVolumeClaim, not both" $i $bucket) }}
{{- end }}
{{- if not (or $m.nfs $m.persistentVolumeClaim) }}
{{- fail (printf "mounts[%v] (%s): give nfs {server, path} or persistentVolumeClaim {claimName}" $i $bucket) }}
{{- end }}
{{- if and $m.nfs (not (and $m.nfs.server $m.nfs.path)) }}
{{- fail (printf "mounts[%v].nfs (%s): server and path are required" $i $bucket) }}
{{- end }}
{{- if and $m.persistentVolumeClaim (not $m.persistentVolumeClaim.claimName) }}
{{- fail (printf "mounts[%v].persistentVolumeClaim (%s): claimName is required" $i $bucket) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
ringcache.json. Top-level keys are only those of the gateway's strict schema (server, dataDir,
mounts, credentials, cache, jobs, cluster, multipart, log). credentials appear only with
auth.credentials; otherwise the single key comes from the environment. Mount i is the volume
mounted at /mnt/ufs/<bucket>; the LMDB cache, the job state and dataDir live on the data PVC at
/data. cluster holds only what is the same on every pod (routing, Consul); the node id, address,
static peers, Consul URL and cluster secret come from the environment.
*/}}
{{- define "ringcache.config" -}}
{{- $v := .Values.config }}
{{- $server := dict "host" "0.0.0.0" "port" $v.server.port "region" $v.server.region "maxPutSize" $v.server.maxPutSize }}
{{- with $v.server.baseDomain }}
{{- $_ := set $server "baseDomain" . }}
{{- end }}
{{- $mounts := dict }}
{{- range .Values.mounts }}
{{- $mount := dict "uri" (printf "file:///mnt/ufs/%s" (toString .bucket)) "anonymousRead" (default false .anonymousRead) }}
{{- if hasKey . "metadataTtlSeconds" }}
{{- $_ := set $mount "metadataTtlSeconds" .metadataTtlSeconds }}
{{- end }}
{{- $_ := set $mounts (toString .bucket) $mount }}
{{- end }}
{{- $config := dict }}
{{- $_ := set $config "server" $server }}
{{- with $v.dataDir }}
{{- $_ := set $config "dataDir" . }}
{{- end }}
{{- $_ := set $config "mounts" $mounts }}
{{- with .Values.auth.credentials }}
{{- $_ := set $config "credentials" . }}
{{- end }}
{{- $cache := dict "enabled" $v.cache.enabled "memory" (dict "maxBytes" $v.cache.memory.maxBytes) "disk" (dict "path" "/data/cache" "maxBytes" $v.cache.disk.maxBytes) }}
{{- $_ := set $config "cache" $cache }}
{{- $_ := set $config "jobs" (dict "stateDir" "/data/jobs" "retainFinishedSeconds" $v.jobs.retainFinishedSeconds) }}
{{- if .Values.cluster.enabled }}
{{- $cluster := dict "routing" .Values.cluster.routing }}
{{- if include "ringcache.consulDiscovery" . }}
{{- $c := .Values.cluster.consul }}
{{- $consul := dict "serviceName" (include "ringcache.consulServiceName" .) "checkTtlSeconds" $c.checkTtlSeconds "deregisterCriticalAfterSeconds" $c.deregisterCriticalAfterSeconds }}
{{- with $c.token }}
{{- $_ := set $consul "token" . }}
{{- end }}
{{- $_ := set $cluster "consul" $consul }}
{{- end }}
{{- $_ := set $config "cluster" $cluster }}
{{- end }}
{{- $_ := set $config "multipart" (dict "abandonedAfterSeconds" $v.multipart.abandonedAfterSeconds "sweepIntervalSeconds" $v.multipart.sweepIntervalSeconds) }}
{{- $_ := set $config "log" (dict "level" $v.log.level) }}
{{- toPrettyJson $config }}
{{- end }}

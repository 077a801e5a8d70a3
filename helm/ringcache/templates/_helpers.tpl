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

{{/*
Static peers, RINGCACHE_PEERS: <pod>=http(s)://<pod>.<podDomain>:<port> for the pod slots
0..cluster.maxReplicas-1. It does not depend on replicaCount, so scaling restarts no pod; a slot
without a pod fails its probes and stays out of the ring.
*/}}
{{- define "ringcache.staticPeers" -}}
{{- $fullName := include "ringcache.fullname" . }}
{{- $domain := include "ringcache.podDomain" . }}
{{- $port := .Values.config.server.port }}
{{- range $i := until (int .Values.cluster.maxReplicas) }}
{{- if $i }},{{ end }}{{ printf "%s-%v=%s://%s-%v.%s:%v" $fullName $i (include "ringcache.scheme" $) $fullName $i $domain $port }}
{{- end }}
{{- end }}

{{/* The kind of a mount: nfs, pvc, s3, gs or hdfs (webhdfs:// and swebhdfs:// are hdfs); "" when unknown. */}}
{{- define "ringcache.mountKind" -}}
{{- if .nfs }}nfs
{{- else if .persistentVolumeClaim }}pvc
{{- else if .uri }}
{{- $scheme := regexFind "^[a-z0-9]+:" (toString .uri) }}
{{- if eq $scheme "s3:" }}s3
{{- else if eq $scheme "gs:" }}gs
{{- else if has $scheme (list "hdfs:" "webhdfs:" "swebhdfs:") }}hdfs
{{- end }}
{{- end }}
{{- end }}

{{/* The credential fields of each store kind, and their default key names in a Secret. */}}
{{- define "ringcache.credentialKeys" -}}
{{- $keys := dict "s3" (dict "accessKeyId" "accessKeyId" "secretAccessKey" "secretAccessKey" "sessionToken" "sessionToken") "gs" (dict "serviceAccountKey" "key.json") "hdfs" (dict "delegationToken" "delegationToken") }}
{{- toJson (get $keys .) }}
{{- end }}

{{/*
A uri mount's credentials, as JSON: {"secret": <Secret name>, "keys": {field: key in the Secret}},
or {} without credentials. (list $ $mount)
*/}}
{{- define "ringcache.mountCredentials" -}}
{{- $root := index . 0 }}
{{- $m := index . 1 }}
{{- $c := $m.credentials }}
{{- if $c }}
{{- $kind := include "ringcache.mountKind" $m }}
{{- $defaults := fromJson (include "ringcache.credentialKeys" $kind) }}
{{- $keys := dict }}
{{- if $c.existingSecret }}
{{- range $field, $key := $defaults }}
{{- if hasKey (default dict $c.keys) $field }}
{{- $_ := set $keys $field (index $c.keys $field) }}
{{- else if ne $field "sessionToken" }}
{{- $_ := set $keys $field $key }}
{{- end }}
{{- end }}
{{- toJson (dict "secret" $c.existingSecret "keys" $keys) }}
{{- else }}
{{- range $field, $key := $defaults }}
{{- if hasKey $c $field }}
{{- $_ := set $keys $field $key }}
{{- end }}
{{- end }}
{{- toJson (dict "secret" (include "ringcache.mountSecretName" (list $root $m)) "keys" $keys) }}
{{- end }}
{{- else }}{}
{{- end }}
{{- end }}

{{/* The Secret the chart creates for a mount's inline credentials. (list $ $mount) */}}
{{- define "ringcache.mountSecretName" -}}
{{- printf "%s-mount-%s" (include "ringcache.fullname" (index . 0)) (toString (index . 1).bucket) | trunc 253 | trimSuffix "-" | trimSuffix "." }}
{{- end }}

{{/* The environment variable that carries credential field F of mount I. (list I F) */}}
{{- define "ringcache.mountEnvName" -}}
{{- printf "RINGCACHE_MOUNT_%v_%s" (index . 0) (snakecase (index . 1) | upper) }}
{{- end }}

{{/* Where a gs:// mount's service-account key file is mounted. */}}
{{- define "ringcache.storeKeyDir" -}}
{{- printf "/etc/ringcache-stores/%s" (toString .bucket) }}
{{- end }}

{{/* A recursive merge: maps merge key by key, anything else in the source replaces. (list DST SRC); DST is changed. */}}
{{- define "ringcache.mergeInto" -}}
{{- $dst := index . 0 }}
{{- range $k, $v := index . 1 }}
{{- if and (kindIs "map" $v) (kindIs "map" (index $dst $k)) }}
{{- include "ringcache.mergeInto" (list (index $dst $k) $v) }}
{{- else }}
{{- $_ := set $dst $k $v }}
{{- end }}
{{- end }}
{{- end }}

{{/* PromQL label matchers for the gateway's series (prometheusRule.selector, or namespace and pod names). */}}
{{- define "ringcache.promSelector" -}}
{{- default (printf "namespace=%q,pod=~%q" .Release.Namespace (printf "%s-[0-9]+" (include "ringcache.fullname" .))) .Values.prometheusRule.selector }}
{{- end }}

{{/* "true" when cluster mode finds its members through Consul. */}}
{{- define "ringcache.consulDiscovery" -}}
{{- if and .Values.cluster.enabled (eq (toString .Values.cluster.discovery) "consul") }}true{{ end }}
{{- end }}

{{/* "true" when cluster mode finds its members through etcd. */}}
{{- define "ringcache.etcdDiscovery" -}}
{{- if and .Values.cluster.enabled (eq (toString .Values.cluster.discovery) "etcd") }}true{{ end }}
{{- end }}

{{/* "true" when the members are discovered (Consul, etcd) rather than listed as static pod slots. */}}
{{- define "ringcache.discoveredMembers" -}}
{{- if or (include "ringcache.consulDiscovery" .) (include "ringcache.etcdDiscovery" .) }}true{{ end }}
{{- end }}

{{- define "ringcache.etcdPrefix" -}}
{{- default (printf "/ringcache/%s-%s" (include "ringcache.fullname" .) .Release.Namespace) .Values.cluster.etcd.prefix }}
{{- end }}

{{- define "ringcache.consulServiceName" -}}
{{- default (printf "%s-%s" (include "ringcache.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-") .Values.cluster.consul.serviceName }}
{{- end }}

{{/*
Fails the render on settings the gateway would reject, or that would silently do something else.
*/}}
{{- define "ringcache.validate" -}}
{{- $cluster := .Values.cluster }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret: a Secret with tls.crt, tls.key and ca.crt (e.g. from cert-manager)" }}
{{- end }}
{{- if and .Values.tls.mutual (not .Values.tls.enabled) }}
{{- fail "tls.mutual needs tls.enabled" }}
{{- end }}
{{- if $cluster.enabled }}
{{- if not (or (eq (toString $cluster.discovery) "static") (eq (toString $cluster.discovery) "consul") (eq (toString $cluster.discovery) "etcd")) }}
{{- fail (printf "cluster.discovery: %q is not static, consul or etcd" (toString $cluster.discovery)) }}
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
{{- if and (include "ringcache.etcdDiscovery" .) (not $cluster.etcd.endpoints) }}
{{- fail "cluster.etcd.endpoints is required with cluster.discovery: etcd (e.g. [http://etcd.etcd.svc:2379])" }}
{{- end }}
{{- if and (include "ringcache.etcdDiscovery" .) (not (hasPrefix "/" (include "ringcache.etcdPrefix" .))) }}
{{- fail "cluster.etcd.prefix must start with /" }}
{{- end }}
{{- if and (not (include "ringcache.discoveredMembers" .)) (gt (int .Values.replicaCount) (int $cluster.maxReplicas)) }}
{{- fail (printf "replicaCount %v is more than cluster.maxReplicas %v: the static peer list names pod slots 0..maxReplicas-1; raise cluster.maxReplicas (this restarts every pod once)" .Values.replicaCount $cluster.maxReplicas) }}
{{- end }}
{{- if and (not (include "ringcache.discoveredMembers" .)) (gt (int $cluster.quorum.bootstrap) (int .Values.replicaCount)) }}
{{- fail (printf "cluster.quorum.bootstrap %v is more than replicaCount %v: the first ring could never form; lower it (keep it more than half of the pods you run)" $cluster.quorum.bootstrap .Values.replicaCount) }}
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
{{- $given := list }}
{{- range $key := list "nfs" "persistentVolumeClaim" "uri" }}
{{- if index $m $key }}{{ $given = append $given $key }}{{ end }}
{{- end }}
{{- if ne (len $given) 1 }}
{{- fail (printf "mounts[%v] (%s): give exactly one of nfs {server, path}, persistentVolumeClaim {claimName} or uri (s3://, gs://, hdfs://), not %s" $i $bucket (ternary "none" (join ", " $given) (empty $given))) }}
{{- end }}
{{- if and $m.nfs (not (and $m.nfs.server $m.nfs.path)) }}
{{- fail (printf "mounts[%v].nfs (%s): server and path are required" $i $bucket) }}
{{- end }}
{{- if and $m.persistentVolumeClaim (not $m.persistentVolumeClaim.claimName) }}
{{- fail (printf "mounts[%v].persistentVolumeClaim (%s): claimName is required" $i $bucket) }}
{{- end }}
{{- if $m.uri }}
{{- $kind := include "ringcache.mountKind" $m }}
{{- if not $kind }}
{{- fail (printf "mounts[%v].uri (%s): %q is not a store URI: use s3://bucket[/prefix][?endpoint=...&region=...], gs://bucket[/prefix] or hdfs://namenode:9870/path (also webhdfs://, swebhdfs://); NFS exports and PVCs are nfs and persistentVolumeClaim mounts" $i $bucket (toString $m.uri)) }}
{{- end }}
{{- if or (hasKey $m "subPath") (hasKey $m "readOnly") }}
{{- fail (printf "mounts[%v] (%s): subPath and readOnly apply to nfs and persistentVolumeClaim mounts, not to a uri" $i $bucket) }}
{{- end }}
{{- if and (hasKey $m "options") (not (kindIs "map" $m.options)) }}
{{- fail (printf "mounts[%v].options (%s): must be a map of adapter settings" $i $bucket) }}
{{- end }}
{{- with $m.credentials }}
{{- $fields := keys (fromJson (include "ringcache.credentialKeys" $kind)) | sortAlpha }}
{{- if not (kindIs "map" .) }}
{{- fail (printf "mounts[%v].credentials (%s): must be a map" $i $bucket) }}
{{- end }}
{{- if .existingSecret }}
{{- range $k, $_ := omit . "existingSecret" "keys" }}
{{- fail (printf "mounts[%v].credentials (%s): existingSecret excludes %s (name the keys of your Secret in credentials.keys)" $i $bucket $k) }}
{{- end }}
{{- range $k, $_ := default dict .keys }}
{{- if not (has $k $fields) }}
{{- fail (printf "mounts[%v].credentials.keys (%s): %s is not a credential of a %s mount (%s)" $i $bucket $k $kind (join ", " $fields)) }}
{{- end }}
{{- end }}
{{- else }}
{{- range $k, $_ := . }}
{{- if not (has $k $fields) }}
{{- fail (printf "mounts[%v].credentials (%s): %s is not a credential of a %s mount: give existingSecret, or %s" $i $bucket $k $kind (join ", " $fields)) }}
{{- end }}
{{- end }}
{{- if and (eq $kind "s3") (not (and .accessKeyId .secretAccessKey)) }}
{{- fail (printf "mounts[%v].credentials (%s): give accessKeyId and secretAccessKey, or existingSecret" $i $bucket) }}
{{- end }}
{{- if and (eq $kind "gs") (not .serviceAccountKey) }}
{{- fail (printf "mounts[%v].credentials (%s): give serviceAccountKey (the key file's JSON), or existingSecret" $i $bucket) }}
{{- end }}
{{- if and (eq $kind "hdfs") (not .delegationToken) }}
{{- fail (printf "mounts[%v].credentials (%s): give delegationToken, or existingSecret" $i $bucket) }}
{{- end }}
{{- end }}
{{- end }}
{{- else if $m.credentials }}
{{- fail (printf "mounts[%v] (%s): credentials apply to uri mounts (s3://, gs://, hdfs://)" $i $bucket) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
ringcache.json. Top-level keys are only those of the gateway's strict schema (server, dataDir,
mounts, credentials, cache, jobs, cluster, multipart, tempFiles, log). credentials appear only with
auth.credentials; otherwise the single key comes from the environment. nfs/PVC mount i is the
volume mounted at /mnt/ufs/<bucket>; uri mounts name their store, with credentials as
{"$env": NAME} references to variables filled from Secrets (gs:// key files as a mounted file).
The LMDB cache, the job state and dataDir live on the data PVC at /data. cluster holds what is the
same on every pod; the node id, address, static peers, Consul URL and cluster secret come from the
environment. extraConfig is merged last.
*/}}
{{- define "ringcache.config" -}}
{{- $v := deepCopy .Values.config }}
{{- $server := omit $v.server "baseDomain" }}
{{- $_ := set $server "host" "0.0.0.0" }}
{{- if .Values.tls.enabled }}
{{- $_ := set $server "tls" (dict "certFile" "/etc/ringcache/tls/tls.crt" "keyFile" "/etc/ringcache/tls/tls.key") }}
{{- end }}
{{- with $v.server.baseDomain }}
{{- $_ := set $server "baseDomain" . }}
{{- end }}
{{- $mounts := dict }}
{{- range $i, $m := .Values.mounts }}
{{- $bucket := toString $m.bucket }}
{{- $mount := dict "anonymousRead" (default false $m.anonymousRead) }}
{{- if $m.uri }}
{{- $_ := set $mount "uri" (toString $m.uri) }}
{{- $options := deepCopy (default dict $m.options) }}
{{- $kind := include "ringcache.mountKind" $m }}
{{- $cred := fromJson (include "ringcache.mountCredentials" (list $ $m)) }}
{{- with $cred.keys }}
{{- if eq $kind "gs" }}
{{- $_ := set $options "keyFilename" (printf "%s/%s" (include "ringcache.storeKeyDir" $m) .serviceAccountKey) }}
{{- else }}
{{- $refs := dict }}
{{- range $field, $_ := . }}
{{- $_ := set $refs $field (dict "$env" (include "ringcache.mountEnvName" (list $i $field))) }}
{{- end }}
{{- if eq $kind "s3" }}
{{- $_ := set $options "credentials" $refs }}
{{- else }}
{{- $_ := set $options "delegationToken" $refs.delegationToken }}
{{- end }}
{{- end }}
{{- end }}
{{- if $options }}
{{- $_ := set $mount "options" $options }}
{{- end }}
{{- else }}
{{- $_ := set $mount "uri" (printf "file:///mnt/ufs/%s" $bucket) }}
{{- end }}
{{- range $key := list "metadataTtlSeconds" "timeoutMs" "maxConcurrency" "cache" }}
{{- if hasKey $m $key }}
{{- $_ := set $mount $key (index $m $key) }}
{{- end }}
{{- end }}
{{- $_ := set $mounts $bucket $mount }}
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
{{- $cache := $v.cache }}
{{- $_ := set $cache.disk "path" "/data/cache" }}
{{- $_ := set $config "cache" $cache }}
{{- $_ := set $v.jobs "stateDir" "/data/jobs" }}
{{- $_ := set $config "jobs" $v.jobs }}
{{- if .Values.cluster.enabled }}
{{- $c := deepCopy .Values.cluster }}
{{- $cluster := pick $c "routing" "forward" "health" "suspectSeconds" "handoff" "lease" }}
{{- $quorum := dict "onLoss" $c.quorum.onLoss }}
{{- if not (include "ringcache.discoveredMembers" .) }}
{{- $_ := set $quorum "bootstrap" (int $c.quorum.bootstrap) }}
{{- end }}
{{- $_ := set $cluster "quorum" $quorum }}
{{- if .Values.tls.enabled }}
{{- $_ := set $cluster "tls" (dict "caFile" "/etc/ringcache/tls/ca.crt" "mutual" (eq (toString .Values.tls.mutual) "true")) }}
{{- end }}
{{- if include "ringcache.consulDiscovery" . }}
{{- $consul := omit $c.consul "url" "token" "serviceName" }}
{{- $_ := set $consul "serviceName" (include "ringcache.consulServiceName" .) }}
{{- with $c.consul.token }}
{{- $_ := set $consul "token" . }}
{{- end }}
{{- $_ := set $cluster "consul" $consul }}
{{- end }}
{{- if include "ringcache.etcdDiscovery" . }}
{{- $_ := set $cluster "etcd" (dict "endpoints" $c.etcd.endpoints "prefix" (include "ringcache.etcdPrefix" .) "leaseSeconds" (int $c.etcd.leaseSeconds) "requestTimeoutMs" (int $c.etcd.requestTimeoutMs)) }}
{{- end }}
{{- $_ := set $config "cluster" $cluster }}
{{- end }}
{{- $_ := set $config "multipart" $v.multipart }}
{{- $_ := set $config "tempFiles" $v.tempFiles }}
{{- $_ := set $config "log" $v.log }}
{{- include "ringcache.mergeInto" (list $config (deepCopy .Values.extraConfig)) }}
{{- toPrettyJson $config }}
{{- end }}

{{/*
The container's environment for uri mounts' credentials (s3:// keys, hdfs:// delegation tokens):
one variable per credential, from its Secret; ringcache.json refers to them as {"$env": NAME}.
*/}}
{{- define "ringcache.mountEnv" -}}
{{- range $i, $m := .Values.mounts }}
{{- $kind := include "ringcache.mountKind" $m }}
{{- if and $m.uri (ne $kind "gs") }}
{{- $cred := fromJson (include "ringcache.mountCredentials" (list $ $m)) }}
{{- range $field, $key := $cred.keys }}
- name: {{ include "ringcache.mountEnvName" (list $i $field) }}
  valueFrom:
    secretKeyRef:
      name: {{ $cred.secret }}
      key: {{ $key | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The inline credentials of uri mounts (the chart's own Secrets), as JSON; "" when there are none. */}}
{{- define "ringcache.inlineMountCredentials" -}}
{{- $inline := dict }}
{{- range .Values.mounts }}
{{- if and .uri .credentials (not .credentials.existingSecret) }}
{{- $_ := set $inline (toString .bucket) .credentials }}
{{- end }}
{{- end }}
{{- if $inline }}{{ toJson $inline }}{{ end }}
{{- end }}

{{/* "https" with tls.enabled, else "http": the scheme of the pods' addresses and probes. */}}
{{- define "ringcache.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

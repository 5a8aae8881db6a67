{{/* The chart's name, for app.kubernetes.io/name. */}}
{{- define "incident-adapter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base name of every object: RELEASE-CHART, or RELEASE alone when it already contains the
chart's name, cut to 63 characters, the limit of a DNS label.
*/}}
{{- define "incident-adapter.fullname" -}}
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

{{- define "incident-adapter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "incident-adapter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "incident-adapter.labels" -}}
helm.sh/chart: {{ include "incident-adapter.chart" . }}
{{ include "incident-adapter.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/part-of: incident-adapter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* What the Service, the PodDisruptionBudget and the monitors select the pods by. */}}
{{- define "incident-adapter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incident-adapter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "incident-adapter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "incident-adapter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "incident-adapter.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where the pod finds its config and secrets, as in deploy/kubernetes/base. */}}
{{- define "incident-adapter.configFile" -}}/etc/incident-adapter/config.yml{{- end }}
{{- define "incident-adapter.secretsDir" -}}/etc/incident-adapter/secrets{{- end }}

{{- define "incident-adapter.configMapName" -}}
{{- default (printf "%s-config" (include "incident-adapter.fullname" .)) .Values.existingConfigMap }}
{{- end }}

{{- define "incident-adapter.secretName" -}}
{{- default (printf "%s-secrets" (include "incident-adapter.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* Whether the pod mounts a Secret at the secrets directory. */}}
{{- define "incident-adapter.hasSecret" -}}
{{- if or .Values.existingSecret .Values.secrets }}true{{ end }}
{{- end }}

{{/* config.yml as the chart renders it: `config`, plus `coordination:` when enabled. */}}
{{- define "incident-adapter.configYaml" -}}
{{- if .Values.coordination.enabled }}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "coordination" (include "incident-adapter.coordination" . | fromYaml) }}
{{- toYaml $config }}
{{- else }}
{{- toYaml .Values.config }}
{{- end }}
{{- end }}

{{/*
The config's coordination block (docs/how-to/replicas.md) from the values' `coordination`: the
Redis URL, the password as a file, `replicas` defaulting to replicaCount. The password comes
from coordination.redis.existingSecret (mounted on its own at redisDir) or else from the
Secret at secretsDir, whose keys incident-adapter.validate checks like any other.
*/}}
{{- define "incident-adapter.redisDir" -}}/etc/incident-adapter/redis{{- end }}
{{- define "incident-adapter.redisPasswordFile" -}}
{{- $redis := .Values.coordination.redis }}
{{- if $redis.existingSecret }}
{{- printf "%s/%s" (include "incident-adapter.redisDir" .) $redis.passwordKey }}
{{- else }}
{{- printf "%s/%s" (include "incident-adapter.secretsDir" .) $redis.passwordKey }}
{{- end }}
{{- end }}
{{- define "incident-adapter.coordination" -}}
{{- $values := .Values.coordination }}
{{- $redis := deepCopy ($values.redis.options | default dict) }}
{{- $_ := set $redis "url" $values.redis.url }}
{{- if $values.redis.passwordKey }}
{{- $_ := set $redis "password_file" (include "incident-adapter.redisPasswordFile" .) }}
{{- end }}
{{- toYaml (dict "redis" $redis "replicas" (int (default .Values.replicaCount $values.replicas))) }}
{{- end }}

{{/* Refuse coordination values that could never reach a Redis. */}}
{{- define "incident-adapter.validateCoordination" -}}
{{- $values := .Values.coordination }}
{{- if $values.enabled }}
{{- if .Values.existingConfigMap }}
{{- fail "coordination.enabled: the chart cannot add coordination: to existingConfigMap's config; write it there, and mount the password with extraVolumes" }}
{{- end }}
{{- if hasKey .Values.config "coordination" }}
{{- fail "config.coordination and coordination.enabled: set the shared store in coordination.* only" }}
{{- end }}
{{- if not (regexMatch `^rediss?://[^\s]+$` (toString $values.redis.url)) }}
{{- fail "coordination.enabled: set coordination.redis.url to your Redis or Valkey, redis://HOST:6379/0 (rediss:// for TLS)" }}
{{- end }}
{{- if and $values.redis.existingSecret (not $values.redis.passwordKey) }}
{{- fail "coordination.redis.existingSecret needs coordination.redis.passwordKey: the key of the password in it" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Whether a monitor (dict "root" $ "monitor" .Values.serviceMonitor) sends Prometheus' bearer
token: "auto" follows the rendered config's auth.protect; with existingConfigMap the chart cannot
read the config and sends it, since an unprotected /metrics ignores the header.
*/}}
{{- define "incident-adapter.scrapeWithToken" -}}
{{- $enabled := .monitor.authorization.enabled }}
{{- if eq (toString $enabled) "auto" }}
{{- if or .root.Values.existingConfigMap (has "metrics" (dig "auth" "protect" list .root.Values.config)) }}true{{ end }}
{{- else if $enabled }}true
{{- end }}
{{- end }}

{{/* A monitor endpoint's authorization, when it sends the token (the same dict). */}}
{{- define "incident-adapter.scrapeAuthorization" -}}
{{- if include "incident-adapter.scrapeWithToken" . }}
# the inbound token for /metrics (auth.protect): Prometheus sends the key's whole content
authorization:
  type: Bearer
  credentials:
    name: {{ include "incident-adapter.secretName" .root }}
    key: {{ .monitor.authorization.secretKey }}
{{- end }}
{{- end }}

{{/*
Refuse a scrape token Prometheus could not use, where the chart can see it: no Secret to read it
from; a key the chart's Secret lacks; a value that is not one token on one line (Prometheus and
the operator send a key's whole content, and Go refuses a header with a newline in it); a token
the rendered config does not accept (the adapter would answer 401). Never echo a value.
*/}}
{{- define "incident-adapter.validateScrapeToken" -}}
{{- $root := .root }}
{{- $key := .monitor.authorization.secretKey }}
{{- $where := printf "%s.authorization" .name }}
{{- if not (include "incident-adapter.hasSecret" $root) }}
{{- fail (printf "%s: Prometheus needs the token for /metrics from a Secret, and the chart mounts none: set secrets.%s (or existingSecret), or %s.enabled=false when /metrics needs no token" $where $key $where) }}
{{- end }}
{{- if not $root.Values.existingSecret }}
{{- if not (hasKey $root.Values.secrets $key) }}
{{- fail (printf "%s.secretKey is %q, but secrets has no key %q: Prometheus reads its token for /metrics there" $where $key $key) }}
{{- end }}
{{- $token := index $root.Values.secrets $key | toString }}
{{- if not (regexMatch `^\S+$` $token) }}
{{- fail (printf "secrets.%s must hold exactly one token and no newline, not even at the end (write it with printf %%s): Prometheus sends the key whole as its bearer token for /metrics. With several tokens (a rotation), put the one Prometheus sends in a key of its own (e.g. scrape-token) and set %s.secretKey" $key $where) }}
{{- end }}
{{- if not $root.Values.existingConfigMap }}
{{- $auth := default dict $root.Values.config.auth }}
{{- $accepted := list }}
{{- range ($auth.bearer_tokens | default list) }}
{{- $accepted = append $accepted (toString . | trim) }}
{{- end }}
{{- $known := true }}
{{- with $auth.bearer_tokens_file }}
{{- $file := trimPrefix (printf "%s/" (include "incident-adapter.secretsDir" $root)) (toString .) }}
{{- if and (ne $file (toString .)) (hasKey $root.Values.secrets $file) }}
{{- range splitList "\n" (index $root.Values.secrets $file | toString) }}
{{- if not (hasPrefix "#" (trim .)) }}{{/* a comment line, as the adapter reads the file */}}
{{- $accepted = append $accepted (trim .) }}
{{- end }}
{{- end }}
{{- else }}
{{- $known = false }}
{{- end }}
{{- end }}
{{- if and $known (not (has $token $accepted)) }}
{{- fail (printf "secrets.%s (%s.secretKey) is not one of the tokens config.auth accepts: the adapter would answer Prometheus 401 on /metrics; put one of them there" $key $where) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuse what would render but never run: a config reading a secret file the chart's Secret
lacks (the adapter would not start), monitors that scrape every replica twice or with a token
the adapter refuses, and alert rules that could never see this release's job.
*/}}
{{- define "incident-adapter.validate" -}}
{{- include "incident-adapter.validateCoordination" . }}
{{- if and (not .Values.existingConfigMap) (not .Values.existingSecret) }}
{{- $dir := include "incident-adapter.secretsDir" . }}
{{- range $path := regexFindAll (printf "%s/[^\\s\"']+" $dir) (include "incident-adapter.configYaml" .) -1 | uniq }}
{{- $key := trimPrefix (printf "%s/" $dir) $path }}
{{- if not (hasKey $.Values.secrets $key) }}
{{- fail (printf "config reads %s, but secrets has no key %q: set it (--set-file secrets.%s=FILE) or name a Secret that has it in existingSecret" $path $key $key) }}
{{- end }}
{{- if not (index $.Values.secrets $key) }}
{{- fail (printf "secrets.%s is empty: config reads it from %s" $key $path) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled .Values.podMonitor.enabled }}
{{- fail "serviceMonitor.enabled and podMonitor.enabled: choose one, each scrapes every replica" }}
{{- end }}
{{- range $name := list "serviceMonitor" "podMonitor" }}
{{- $monitor := index $.Values $name }}
{{- if and $monitor.enabled (include "incident-adapter.scrapeWithToken" (dict "root" $ "monitor" $monitor)) }}
{{- include "incident-adapter.validateScrapeToken" (dict "root" $ "monitor" $monitor "name" $name) }}
{{- end }}
{{- end }}
{{- if and .Values.prometheusRule.enabled (not (contains "incident-adapter" (include "incident-adapter.fullname" .))) }}
{{- fail (printf "prometheusRule.enabled: the rules look for a job that contains \"incident-adapter\", and this release's job is %q; keep \"incident-adapter\" in the release name or fullnameOverride" (include "incident-adapter.fullname" .)) }}
{{- end }}
{{- end }}

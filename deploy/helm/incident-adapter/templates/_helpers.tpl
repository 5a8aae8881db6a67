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

{{/* config.yml as the chart renders it. */}}
{{- define "incident-adapter.configYaml" -}}
{{- toYaml .Values.config }}
{{- end }}

{{/*
Refuse what would render but never run: a config reading a secret file the chart's Secret
lacks (the adapter would not start), monitors that scrape every replica twice, and alert rules
that could never see this release's job.
*/}}
{{- define "incident-adapter.validate" -}}
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
{{- if and .Values.prometheusRule.enabled (not (contains "incident-adapter" (include "incident-adapter.fullname" .))) }}
{{- fail (printf "prometheusRule.enabled: the rules look for a job that contains \"incident-adapter\", and this release's job is %q; keep \"incident-adapter\" in the release name or fullnameOverride" (include "incident-adapter.fullname" .)) }}
{{- end }}
{{- end }}

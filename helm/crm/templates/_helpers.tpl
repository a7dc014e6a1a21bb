{{/* The release's name prefix: `crm` for a release named crm, else `<release>-crm`. */}}
{{- define "crm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "crm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one target's pods: (dict "root" $ "target" "iam") */}}
{{- define "crm.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .target }}
{{- end -}}

{{- define "crm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "crm.secretName" -}}
{{- default (printf "%s-secrets" (include "crm.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* An env var from the credentials Secret, left out when the Secret may not hold it. */}}
{{- define "crm.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "crm.secretName" .root }}
      key: {{ .key }}
      optional: {{ .optional | default false }}
{{- end -}}

{{/* The pod's own address for gRPC probes and `crm health`. */}}
{{- define "crm.probes" -}}
startupProbe:
  grpc: { port: {{ .Values.service.port }} }
  periodSeconds: 2
  failureThreshold: 60
readinessProbe:
  # "": NOT_SERVING while a store does not answer, or while draining.
  grpc: { port: {{ .Values.service.port }} }
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  # The health service itself: the process answers; a database outage does not restart it.
  grpc: { port: {{ .Values.service.port }}, service: grpc.health.v1.Health }
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{/* Names and labels. */}}

{{- define "sfgr-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sfgr-sync.fullname" -}}
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

{{/* The name of one workload's objects: (dict "root" $ "component" "api") */}}
{{- define "sfgr-sync.componentName" -}}
{{- printf "%s-%s" (include "sfgr-sync.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sfgr-sync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "sfgr-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sfgr-sync
{{- end }}

{{/* (dict "root" $ "component" "api") */}}
{{- define "sfgr-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sfgr-sync.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label of one workload's objects: (dict "root" $ "component" "api") */}}
{{- define "sfgr-sync.componentLabels" -}}
{{ include "sfgr-sync.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "sfgr-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sfgr-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sfgr-sync.secretName" -}}
{{- default (include "sfgr-sync.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "sfgr-sync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The ConfigMap's data: every non-empty setting of .Values.config, plus what the chart derives
(the public base URL from the ingress, the Kafka CA file from kafkaCa). Numbers go through toJson:
Helm reads them as floats, and toString would turn 5242880 into "5.24288e+06".
*/}}
{{- define "sfgr-sync.configData" -}}
{{- $config := deepCopy .Values.config }}
{{- if and .Values.ingress.enabled (not $config.SFGR_PUBLIC_BASE_URL) }}
{{- $_ := set $config "SFGR_PUBLIC_BASE_URL" (printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host) }}
{{- end }}
{{- with .Values.kafkaClientCert }}
{{- if .secretName }}
{{- $_ := set $config "SFGR_KAFKA_SSL_CERTFILE" (printf "/etc/sfgr/kafka-client/%s" .certKey) }}
{{- $_ := set $config "SFGR_KAFKA_SSL_KEYFILE" (printf "/etc/sfgr/kafka-client/%s" .keyKey) }}
{{- end }}
{{- end }}
{{- if and .Values.kafkaCa.secretName (not $config.SFGR_KAFKA_SSL_CAFILE) }}
{{- $_ := set $config "SFGR_KAFKA_SSL_CAFILE" (printf "/etc/sfgr/kafka-ca/%s" .Values.kafkaCa.key) }}
{{- end }}
{{- range $key, $value := $config }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{ $key }}: {{ ternary $value (toJson $value) (kindIs "string" $value) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The chart-made Secret's data: the non-empty values of .Values.secrets, base64. */}}
{{- define "sfgr-sync.secretData" -}}
{{- range $key, $value := .Values.secrets }}
{{- if $value }}
{{ $key }}: {{ $value | toString | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod template every workload shares: (dict "root" $ "component" "api" "workload" .Values.api
"args" (list "api") "container" "<ports and probes, YAML>" "hook" false).
With "hook" true (the migrate Job), it reads the hook's own copies of the ConfigMap, the Secret and
the ServiceAccount, which exist before the release's own objects do.
*/}}
{{- define "sfgr-sync.podTemplate" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $w := .workload -}}
{{- $names := dict "root" $root "component" .component -}}
{{- $configMap := include "sfgr-sync.fullname" $root -}}
{{- $secret := include "sfgr-sync.secretName" $root -}}
{{- $serviceAccount := include "sfgr-sync.serviceAccountName" $root -}}
{{- if .hook }}
{{- $configMap = include "sfgr-sync.componentName" $names }}
{{- if not $values.existingSecret }}
{{- $secret = include "sfgr-sync.componentName" $names }}
{{- end }}
{{- if $values.serviceAccount.create }}
{{- $serviceAccount = include "sfgr-sync.componentName" $names }}
{{- end }}
{{- end }}
metadata:
  labels:
    {{- include "sfgr-sync.selectorLabels" $names | nindent 4 }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "sfgr-sync.configData" $root | sha256sum }}
    {{- if not $values.existingSecret }}
    checksum/secret: {{ include "sfgr-sync.secretData" $root | sha256sum }}
    {{- end }}
    {{- with merge (deepCopy ($w.podAnnotations | default dict)) ($values.podAnnotations | default dict) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ $serviceAccount }}
  automountServiceAccountToken: false
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  {{- with $w.terminationGracePeriodSeconds }}
  terminationGracePeriodSeconds: {{ . }}
  {{- end }}
  {{- if .hook }}
  restartPolicy: Never
  {{- end }}
  containers:
    - name: sfgr
      image: {{ include "sfgr-sync.image" $root | quote }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      envFrom:
        - configMapRef:
            name: {{ $configMap }}
        - secretRef:
            name: {{ $secret }}
      {{- $env := concat (include "sfgr-sync.secretKeyRefEnv" $root | fromYaml).env ($values.extraEnv | default list) ($w.extraEnv | default list) }}
      {{- with $env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .container }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $w.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $values.kafkaCa.secretName }}
        - name: kafka-ca
          mountPath: /etc/sfgr/kafka-ca
          readOnly: true
        {{- end }}
        {{- if $values.kafkaClientCert.secretName }}
        - name: kafka-client-cert
          mountPath: /etc/sfgr/kafka-client
          readOnly: true
        {{- end }}
        {{- with $values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpSizeLimit }}
    {{- if $values.kafkaCa.secretName }}
    - name: kafka-ca
      secret:
        secretName: {{ $values.kafkaCa.secretName }}
        items:
          - key: {{ $values.kafkaCa.key }}
            path: {{ $values.kafkaCa.key }}
    {{- end }}
    {{- with $values.kafkaClientCert }}
    {{- if .secretName }}
    - name: kafka-client-cert
      secret:
        secretName: {{ .secretName }}
        items:
          - key: {{ .certKey }}
            path: {{ .certKey }}
          - key: {{ .keyKey }}
            path: {{ .keyKey }}
    {{- end }}
    {{- end }}
    {{- with $values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with ($w.nodeSelector | default $values.nodeSelector) }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($w.tolerations | default $values.tolerations) }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($w.affinity | default $values.affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and $values.spreadAcrossNodes (not .hook) }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "sfgr-sync.selectorLabels" $names | nindent 10 }}
  {{- end }}
{{- end }}

{{/*
Each secret setting given by secretKeyRefs comes from its own Secret and key (an operator-made
database Secret, a Strimzi KafkaUser's password), as an env entry: it wins over the same name in
existingSecret or the chart's Secret. Returned as YAML {"env": [...]}, for fromYaml.
*/}}
{{- define "sfgr-sync.secretKeyRefEnv" -}}
{{- $env := list }}
{{- range $name, $ref := .Values.secretKeyRefs }}
{{- $env = append $env (dict "name" $name "valueFrom" (dict "secretKeyRef" (dict "name" $ref.name "key" $ref.key))) }}
{{- end }}
{{- toYaml (dict "env" $env) }}
{{- end }}

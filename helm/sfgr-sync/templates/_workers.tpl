{{/*
The container part of a consumer's or the poller's pod: the port it serves /metrics and /healthz
on (config.SFGR_METRICS_PORT, named "metrics": what the PodMonitor scrapes) and its liveness
probe (/healthz answers 503 once a loop of the process has not turned for SFGR_HEALTH_STALL_S).
(dict "root" $ "workload" .Values.poller)
*/}}
{{- define "sfgr-sync.workerContainer" -}}
{{- $values := .root.Values -}}
{{- $container := dict "ports" (list (dict "name" "metrics" "containerPort" (int $values.config.SFGR_METRICS_PORT) "protocol" "TCP")) -}}
{{- with (.workload.livenessProbe | default $values.workerLivenessProbe) }}
{{- $_ := set $container "livenessProbe" . -}}
{{- end }}
{{- toYaml $container -}}
{{- end }}

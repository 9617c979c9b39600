"""Observability on GCP: the alert channel and budget (base stack), Cloud Monitoring alert policies, log-based
business metrics and one dashboard per service.

- Channel: one google_monitoring_notification_channel per `[alerts]` address (`email`, and `webhook_tokenauth` for
  an HTTPS webhook) in the base stack; every alert policy of the environment lists them all.
  https://cloud.google.com/monitoring/support/notification-options
- Budget: google_billing_budget on `clouds.gcp.billing_account`, filtered to the project, with a threshold rule per
  `alerts_at` % and the channels as monitoring notification channels.
  https://cloud.google.com/billing/docs/how-to/budgets
- Alert policies (google_monitoring_alert_policy), per function (Cloud Functions gen2 run on Cloud Run, so their
  metrics are the Cloud Run service's, https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run):
  `run.googleapis.com/request_count` with response_code_class 5xx (errors) and response_code 429 (throttles: no
  instance available), `run.googleapis.com/request_latencies` at the 95th percentile; per CDN: the load balancer's
  `loadbalancing.googleapis.com/https/request_count` of class 500 over all requests. Threshold conditions compare
  with COMPARISON_GT only, so "at least N" is "more than N - 1".
  https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#metricthreshold
- Business metrics: per declared metric a log-based distribution metric (google_logging_metric) over the
  structured lines the runtime writes (`jsonPayload.platform_metric`, value `jsonPayload.value`, a label per
  dimension and `function`). https://cloud.google.com/logging/docs/logs-based-metrics/distribution-metrics
- Alert policies per queue: Pub/Sub's subscription/oldest_unacked_message_age of the queue's subscription and
  subscription/num_undelivered_messages of the subscription on its dead-letter topic (Max, > threshold - 1:
  at least the threshold). https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub
- Dashboard (google_monitoring_dashboard) per service stack: requests, 5xx and p95 latency per function, requests
  and 5xx per CDN, and each business metric's total through PromQL (`<metric>_sum`: distribution-valued metrics
  read like Prometheus histograms, https://cloud.google.com/monitoring/promql/promql-mapping).

Base-stack needs: "channel": "alerts"; "budget": "monthly"; APIs through "api".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from platform_sdk.errors import PlatformError
from platform_sdk.model import AlarmThreshold, Cdn, Function, Metric
from platform_sdk.providers.base import BaseNeeds, Handle, StackContext
from platform_sdk.providers.gcp import naming, provider
from platform_sdk.providers.gcp.queue import DLQ_SUFFIX, topic_id

CHANNEL = "channel"
BUDGET = "budget"
MONITORING_API = "monitoring.googleapis.com"
LOGGING_API = "logging.googleapis.com"
BUDGET_API = "billingbudgets.googleapis.com"
BASE_SERVICE = "base"
GCP_UNITS = {"Count": "1", "Milliseconds": "ms", "Seconds": "s", "Bytes": "By", "Percent": "%", "None": "1"}
"""Neutral metric units -> Cloud Monitoring's unit strings (UCUM)."""


def record_needs(ctx: StackContext) -> None:
    """Ask the base stack for what alarms, metrics and dashboards need (the Monitoring and Logging APIs: alarms are
    on by default), and for the channel and the budget the environment file declares. Called for every stack while
    it is configured: the base stack is built before any alarm exists, so nothing may be asked for later."""
    provider.apis(ctx, MONITORING_API, LOGGING_API)
    if ctx.env.alerts is not None:
        ctx.needs.add(CHANNEL, "alerts")
    if ctx.env.budget is not None:
        ctx.needs.add(BUDGET, "monthly")
        provider.apis(ctx, BUDGET_API)


# -- the base stack ------------------------------------------------------------------------------------------------
def compile_base(ctx: StackContext, needs: BaseNeeds) -> list[Any]:
    """The channel's notification channels and the budget; returns the channels (alert policies list them)."""
    alerts = ctx.env.alerts
    channels: list[Any] = []
    label = f"{ctx.env.name_prefix}-{ctx.env.name}"
    if alerts is not None and needs.of(CHANNEL):
        for index, address in enumerate(alerts.email):
            channels.append(ctx.resource("google_monitoring_notification_channel", f"platform_alerts_email_{index}", {
                "display_name": f"{label} alerts: {address}", "type": "email",
                "labels": {"email_address": address}, "user_labels": ctx.labels(),
            }))
        for index, url in enumerate(alerts.webhook):
            channels.append(ctx.resource("google_monitoring_notification_channel",
                                         f"platform_alerts_webhook_{index}", {
                                             "display_name": f"{label} alerts: webhook {index + 1}",
                                             "type": "webhook_tokenauth", "labels": {"url": url},
                                             "user_labels": ctx.labels(),
                                         }))
    budget = ctx.env.budget
    if budget is not None and needs.of(BUDGET):
        account = provider.cloud(ctx).billing_account
        if not account:
            raise PlatformError("[budget] on GCP needs the billing account that pays for the project: add "
                                "billing_account = \"XXXXXX-XXXXXX-XXXXXX\" to [clouds.gcp]", file=ctx.env.file,
                                key="clouds.gcp.billing_account")
        rule: dict[str, Any] = {"disable_default_iam_recipients": False}
        if channels:
            rule["monitoring_notification_channels"] = [c.ref("id") for c in channels]
        ctx.resource("google_billing_budget", "platform_budget", {
            "billing_account": account,
            "display_name": ctx.profile.physical_name(ctx.env, BASE_SERVICE, "budget"),
            "budget_filter": {"projects": [f"projects/{provider.project_number(ctx)}"], "calendar_period": "MONTH"},
            "amount": {"specified_amount": {"currency_code": budget.currency, "units": str(budget.monthly)}},
            "threshold_rules": [{"threshold_percent": percent / 100, "spend_basis": "CURRENT_SPEND"}
                                for percent in budget.alerts_at],
            "all_updates_rule": rule,
        })
    return channels


# -- alert policies (the per-kind hook: one builder per kind with alarms) ---------------------------------------------
def _run_filter(service: str, metric: str, extra: str = "") -> str:
    return (f'resource.type = "cloud_run_revision" AND resource.labels.service_name = "{service}" AND '
            f'metric.type = "run.googleapis.com/{metric}"' + (f" AND {extra}" if extra else ""))


def _policy(ctx: StackContext, resource: Any, key: str, channels: list[Any], condition: dict[str, Any],
            what: str) -> None:
    ctx.resource("google_monitoring_alert_policy", f"{resource.name}_alarm_{key}", {
        "display_name": f"{ctx.physical_name(resource)} {key.replace('_', ' ')}",
        "combiner": "OR",
        "conditions": [{"display_name": what, "condition_threshold": condition}],
        "notification_channels": [c.ref("id") for c in channels],
        "documentation": {"content": f"{resource.address}: {what}", "mime_type": "text/markdown"},
        "user_labels": ctx.labels(resource),
    })


def _threshold(filter_: str, aligner: str, reducer: str, period: int, value: float) -> dict[str, Any]:
    return {"filter": filter_, "comparison": "COMPARISON_GT", "threshold_value": value, "duration": "0s",
            "aggregations": [{"alignment_period": f"{period}s", "per_series_aligner": aligner,
                              "cross_series_reducer": reducer}]}


def function_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold], channels: list[Any]) -> None:
    fn = handle.resource
    service = naming.rfc1035(ctx.physical_name(fn))
    for t in thresholds:
        if t.key == "p95_duration":
            condition = _threshold(_run_filter(service, "request_latencies"), "ALIGN_PERCENTILE_95", "REDUCE_MAX",
                                   t.period, t.threshold)
            what = f"p95 latency above {t.threshold:g} ms in {t.period} s"
        else:
            extra = ('metric.labels.response_code_class = "5xx"' if t.key == "errors"
                     else 'metric.labels.response_code = "429"')
            condition = _threshold(_run_filter(service, "request_count", extra), "ALIGN_SUM", "REDUCE_SUM",
                                   t.period, t.threshold - 1)
            what = f"{'5xx responses' if t.key == 'errors' else '429 responses (throttled)'} >= {t.threshold:g} " \
                   f"in {t.period} s"
        _policy(ctx, fn, t.key, channels, condition, what)


def cdn_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold], channels: list[Any]) -> None:
    cdn = handle.resource
    url_map = naming.rfc1035(f"{ctx.physical_name(cdn)}-urls")
    base = (f'resource.type = "https_lb_rule" AND resource.labels.url_map_name = "{url_map}" AND '
            'metric.type = "loadbalancing.googleapis.com/https/request_count"')
    for t in thresholds:
        condition = _threshold(f"{base} AND metric.labels.response_code_class = 500", "ALIGN_SUM", "REDUCE_SUM",
                               t.period, t.threshold / 100)
        condition["denominator_filter"] = base
        condition["denominator_aggregations"] = condition["aggregations"]
        _policy(ctx, cdn, t.key, channels, condition, f"5xx responses above {t.threshold:g} % in {t.period} s")


PUBSUB_METRICS = {"oldest_message_age": ("subscription/oldest_unacked_message_age", ""),
                  "dead_letters": ("subscription/num_undelivered_messages", DLQ_SUFFIX)}
"""Queue alarm key -> (Pub/Sub metric, suffix of the subscription it watches: the queue's own, or the one on its
dead-letter topic). https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub"""


def queue_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold], channels: list[Any]) -> None:
    queue = handle.resource
    for t in thresholds:
        metric, suffix = PUBSUB_METRICS[t.key]
        subscription = topic_id(ctx.physical_name(queue), suffix)
        filter_ = (f'resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "{subscription}" '
                   f'AND metric.type = "pubsub.googleapis.com/{metric}"')
        condition = _threshold(filter_, "ALIGN_MAX", "REDUCE_MAX", t.period, t.threshold - 1)
        what = (f"oldest unacknowledged message >= {t.threshold:g} s" if not suffix
                else f"messages in the dead-letter queue >= {t.threshold:g}") + f" in {t.period} s"
        _policy(ctx, queue, t.key, channels, condition, what)


ALARMS: dict[str, Callable[[StackContext, Handle, list[AlarmThreshold], list[Any]], None]] = {
    "function": function_alarms,
    "cdn": cdn_alarms,
    "queue": queue_alarms,
}
"""Kind -> its alert-policy builder."""


def compile_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold], channels: list[Any]) -> None:
    build = ALARMS.get(handle.resource.kind)
    if build is not None and thresholds:
        build(ctx, handle, thresholds, channels)


# -- business metrics and the dashboard -------------------------------------------------------------------------------
def log_metric_name(ctx: StackContext, metric: Metric) -> str:
    """`<prefix>-<env>-<service>/<metric>`: unique in the project, grouped per service."""
    return f"{ctx.profile.physical_name(ctx.env, ctx.service.name, 'metrics')}/{metric.name}"


def promql_name(log_metric: str) -> str:
    """Cloud Monitoring's `logging.googleapis.com/user/<name>` as PromQL names it (first '/' -> ':', the other
    special characters -> '_')."""
    return "logging_googleapis_com:" + re.sub(r"[^A-Za-z0-9_]", "_", f"user/{log_metric}")


def log_metrics(ctx: StackContext, metrics: list[Metric]) -> None:
    for metric in metrics:
        labels = [*metric.dimensions, "function"]
        ctx.resource("google_logging_metric", f"metric_{metric.name}", {
            "name": log_metric_name(ctx, metric),
            "description": metric.description or f"{ctx.service.name}: {metric.name} ({metric.unit})",
            "filter": (f'jsonPayload.platform_metric = "{metric.name}" AND jsonPayload.platform_service = '
                       f'"{ctx.service.name}" AND jsonPayload.platform_env = "{ctx.env.name}"'),
            "metric_descriptor": {"metric_kind": "DELTA", "value_type": "DISTRIBUTION",
                                  "unit": GCP_UNITS[metric.unit], "display_name": metric.name,
                                  "labels": [{"key": label, "value_type": "STRING"} for label in labels]},
            "value_extractor": "EXTRACT(jsonPayload.value)",
            "label_extractors": {**{d: f"EXTRACT(jsonPayload.dimensions.{d})" for d in metric.dimensions},
                                 "function": "EXTRACT(jsonPayload.platform_function)"},
            "bucket_options": {"exponential_buckets": {"num_finite_buckets": 64, "growth_factor": 2, "scale": 0.01}},
        })


def _chart(title: str, filter_: str, aligner: str, reducer: str = "REDUCE_SUM") -> dict[str, Any]:
    return {"title": title, "xyChart": {"dataSets": [{"plotType": "LINE", "timeSeriesQuery": {"timeSeriesFilter": {
        "filter": filter_, "aggregation": {"alignmentPeriod": "60s", "perSeriesAligner": aligner,
                                           "crossSeriesReducer": reducer}}}}]}}


def compile_dashboard(ctx: StackContext, handles: list[Handle], metrics: list[Metric]) -> None:
    log_metrics(ctx, metrics)
    widgets: list[dict[str, Any]] = []
    for handle in handles:
        resource = handle.resource
        if isinstance(resource, Function):
            service = naming.rfc1035(ctx.physical_name(resource))
            widgets.append(_chart(f"{resource.address}: invocations", _run_filter(service, "request_count"),
                                  "ALIGN_RATE"))
            widgets.append(_chart(f"{resource.address}: errors (5xx)", _run_filter(
                service, "request_count", 'metric.labels.response_code_class = "5xx"'), "ALIGN_RATE"))
            widgets.append(_chart(f"{resource.address}: duration (p95, ms)", _run_filter(service, "request_latencies"),
                                  "ALIGN_PERCENTILE_95", "REDUCE_MAX"))
        elif isinstance(resource, Cdn):
            url_map = naming.rfc1035(f"{ctx.physical_name(resource)}-urls")
            lb = (f'resource.type = "https_lb_rule" AND resource.labels.url_map_name = "{url_map}" AND '
                  'metric.type = "loadbalancing.googleapis.com/https/request_count"')
            widgets.append(_chart(f"{resource.address}: requests", lb, "ALIGN_RATE"))
            widgets.append(_chart(f"{resource.address}: 5xx responses", f"{lb} AND "
                                  "metric.labels.response_code_class = 500", "ALIGN_RATE"))
    for metric in metrics:
        query = f"sum(increase({promql_name(log_metric_name(ctx, metric))}_sum[5m]))"
        widgets.append({"title": f"{ctx.service.name}: {metric.name} ({metric.unit})",
                        "xyChart": {"dataSets": [{"plotType": "LINE", "timeSeriesQuery": {"prometheusQuery": query}}]}})
    if not widgets:
        return
    tiles = [{"xPos": (i % 2) * 6, "yPos": (i // 2) * 4, "width": 6, "height": 4, "widget": w}
             for i, w in enumerate(widgets)]
    ctx.resource("google_monitoring_dashboard", "platform_dashboard", {
        "dashboard_json": json.dumps({"displayName": ctx.profile.physical_name(ctx.env, ctx.service.name,
                                                                               "dashboard"),
                                      "mosaicLayout": {"columns": 12, "tiles": tiles}}, separators=(",", ":")),
    })

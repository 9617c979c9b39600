"""Observability on AWS: the alert channel and budget (base stack), CloudWatch alarms, one dashboard per service.

- Channel: an SNS topic `<prefix>-<env>-base-alerts` per Region an alarm lives in (the stacks' Region, and
  us-east-1 for CloudFront, whose metrics exist only there: an alarm notifies a topic of its own Region), with one
  subscription per `[alerts]` address (`email`: AWS mails a confirmation first; `https`). Its policy lets CloudWatch
  alarms and AWS Budgets of this account publish (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
  AlarmThatSendsEmail.html, https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html).
  The topic is not encrypted: CloudWatch and Budgets cannot use the AWS-managed SNS key (checkov_skips says so).
- Budget: aws_budgets_budget, monthly COST budget of the account, notifying the topic at each `alerts_at` %.
- Alarms (aws_cloudwatch_metric_alarm), per function: AWS/Lambda Errors and Throttles (Sum >= threshold) and
  Duration p95 (> threshold ms); per CDN: AWS/CloudFront 5xxErrorRate (Average > threshold %, Region Global, in
  us-east-1); per queue: AWS/SQS ApproximateAgeOfOldestMessage of the queue (Maximum >= threshold s) and
  ApproximateNumberOfMessagesVisible of its dead-letter queue (Maximum >= threshold).
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html,
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
- Dashboard (aws_cloudwatch_dashboard) per service stack: invocations, errors, throttles and p95 duration per
  function, requests and 5xx rate per CDN, and each declared business metric (EMF, namespace `<prefix>/<env>`,
  dimension `service`; see the runtime's metrics.py).

Base-stack needs: "channel": the Regions needing a topic; "budget": "monthly".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from platform_sdk import contract
from platform_sdk.model import AlarmThreshold, Cdn, Function, Metric
from platform_sdk.providers.aws.common import policy_json, resource_tags, rid
from platform_sdk.providers.aws.provider import CLOUDFRONT_REGION, account_id, region_of
from platform_sdk.providers.base import BaseNeeds, Handle, StackContext

CHANNEL = "channel"
BUDGET = "budget"
TOPIC_RESOURCE = "alerts"  # the topic's neutral part: `<prefix>-<env>-base-alerts`
BASE_SERVICE = "base"
PERIOD_DASHBOARD = 300


def topic_name(ctx: StackContext) -> str:
    return ctx.profile.physical_name(ctx.env, BASE_SERVICE, TOPIC_RESOURCE)


def topic_arn(ctx: StackContext, region: str) -> str:
    """The channel's topic in `region`, known before apply (the base stack names it so; no cross-stack output)."""
    return f"arn:aws:sns:{region}:{account_id(ctx)}:{topic_name(ctx)}"


def record_needs(ctx: StackContext, *regions: str) -> None:
    """Ask the base stack for the channel's topic in `regions` (the stack's own when none) and for the budget."""
    if ctx.env.alerts is not None:
        ctx.needs.add(CHANNEL, *(regions or (region_of(ctx),)))
    if ctx.env.budget is not None and not regions:
        ctx.needs.add(BUDGET, "monthly")


def actions(ctx: StackContext, region: str) -> list[str]:
    """Where an alarm in `region` notifies: the channel's topic there, or nowhere without `[alerts]`."""
    return [topic_arn(ctx, region)] if ctx.env.alerts is not None else []


# -- the base stack ------------------------------------------------------------------------------------------------
def compile_base(ctx: StackContext, needs: BaseNeeds) -> None:
    """The channel's topics and subscriptions, and the budget."""
    alerts = ctx.env.alerts
    home = region_of(ctx)
    if alerts is not None:
        for region in needs.of(CHANNEL):
            suffix = "" if region == home else "_" + region.replace("-", "_")
            extra = {} if region == home else {"region": region}
            account = account_id(ctx)
            arn = f"arn:aws:sns:{region}:{account}:{topic_name(ctx)}"
            statements = [{"Sid": f"Allow{who.split('.')[0].capitalize()}", "Effect": "Allow",
                           "Principal": {"Service": who}, "Action": "sns:Publish", "Resource": arn,
                           "Condition": {"StringEquals": {"aws:SourceAccount": account}}}
                          for who in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")]
            topic = ctx.resource("aws_sns_topic", f"platform_alerts{suffix}", {
                "name": topic_name(ctx), **extra, "display_name": f"{ctx.env.name_prefix}-{ctx.env.name} alerts",
                "policy": policy_json(statements),
            })
            for index, address in enumerate(alerts.email):
                ctx.resource("aws_sns_topic_subscription", f"platform_alerts{suffix}_email_{index}", {
                    "topic_arn": topic.ref("arn"), "protocol": "email", "endpoint": address, **extra})
            for index, url in enumerate(alerts.webhook):
                ctx.resource("aws_sns_topic_subscription", f"platform_alerts{suffix}_webhook_{index}", {
                    "topic_arn": topic.ref("arn"), "protocol": "https", "endpoint": url,
                    "endpoint_auto_confirms": False, **extra})
    budget = ctx.env.budget
    if budget is not None and needs.of(BUDGET):
        notify = {"subscriber_sns_topic_arns": [topic_arn(ctx, home)]}
        ctx.resource("aws_budgets_budget", "platform_budget", {
            "name": ctx.profile.physical_name(ctx.env, BASE_SERVICE, "budget"),
            "budget_type": "COST",
            "limit_amount": str(budget.monthly),
            "limit_unit": budget.currency,
            "time_unit": "MONTHLY",
            "notification": [{"comparison_operator": "GREATER_THAN", "threshold": percent,
                              "threshold_type": "PERCENTAGE", "notification_type": "ACTUAL", **notify}
                             for percent in budget.alerts_at] if alerts is not None else [],
            # no own tags: the provider's default_tags carry them all (the schema has tags_all); an identical copy
            # here would make a perpetual diff
        })


# -- alarms (the per-kind hook: one builder per kind with alarms) ----------------------------------------------------
def _alarm(ctx: StackContext, resource: Any, key: str, attrs: dict[str, Any], region: str) -> None:
    extra = {} if region == region_of(ctx) else {"region": region}
    notify = actions(ctx, region)
    ctx.resource("aws_cloudwatch_metric_alarm", rid(ctx, resource, f"alarm_{key}"), {
        "alarm_name": f"{ctx.physical_name(resource)}-{key.replace('_', '-')}",
        "evaluation_periods": 1,
        "treat_missing_data": "notBreaching",
        "alarm_actions": notify,
        "ok_actions": notify,
        **attrs,
        **extra,
        "tags": resource_tags(ctx, resource),
    })


LAMBDA_METRICS = {"errors": ("Errors", "Sum"), "throttles": ("Throttles", "Sum"), "p95_duration": ("Duration", "p95")}


def function_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
    fn = handle.resource
    for t in thresholds:
        metric, stat = LAMBDA_METRICS[t.key]
        statistic = {"extended_statistic": stat} if stat.startswith("p") else {"statistic": stat}
        comparison = "GreaterThanThreshold" if t.key == "p95_duration" else "GreaterThanOrEqualToThreshold"
        _alarm(ctx, fn, t.key, {
            "alarm_description": f"{fn.address}: {metric} {stat} {'>' if t.key == 'p95_duration' else '>='} "
                                 f"{t.threshold:g} in {t.period} s",
            "namespace": "AWS/Lambda", "metric_name": metric, **statistic,
            "dimensions": {"FunctionName": handle["name"]}, "period": t.period,
            "comparison_operator": comparison, "threshold": t.threshold,
            **({"unit": "Milliseconds"} if t.key == "p95_duration" else {}),
        }, region_of(ctx))


def cdn_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
    cdn = handle.resource
    distribution = handle.constructs["distribution"]
    for t in thresholds:
        _alarm(ctx, cdn, t.key, {
            "alarm_description": f"{cdn.address}: 5xx responses above {t.threshold:g} % in {t.period} s",
            "namespace": "AWS/CloudFront", "metric_name": "5xxErrorRate", "statistic": "Average",
            "dimensions": {"DistributionId": distribution.ref("id"), "Region": "Global"}, "period": t.period,
            "comparison_operator": "GreaterThanThreshold", "threshold": t.threshold,
        }, CLOUDFRONT_REGION)


SQS_METRICS = {"oldest_message_age": ("ApproximateAgeOfOldestMessage", "queue", "s"),
               "dead_letters": ("ApproximateNumberOfMessagesVisible", "dlq", "")}
"""Queue alarm key -> (AWS/SQS metric, which queue of the pair it watches, unit shown in the description)."""


def queue_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
    queue = handle.resource
    for t in thresholds:
        metric, which, unit = SQS_METRICS[t.key]
        watched = handle.constructs[which]
        what = "oldest message age" if which == "queue" else "messages in the dead-letter queue"
        _alarm(ctx, queue, t.key, {
            "alarm_description": f"{queue.address}: {what} >= {t.threshold:g}{unit} in {t.period} s",
            "namespace": "AWS/SQS", "metric_name": metric, "statistic": "Maximum",
            "dimensions": {"QueueName": watched.ref("name")}, "period": t.period,
            "comparison_operator": "GreaterThanOrEqualToThreshold", "threshold": t.threshold,
        }, region_of(ctx))


ALARMS: dict[str, Callable[[StackContext, Handle, list[AlarmThreshold]], None]] = {
    "function": function_alarms,
    "cdn": cdn_alarms,
    "queue": queue_alarms,
}
"""Kind -> its alarm builder."""


def compile_alarms(ctx: StackContext, handle: Handle, thresholds: list[AlarmThreshold]) -> None:
    build = ALARMS.get(handle.resource.kind)
    if build is not None and thresholds:
        build(ctx, handle, thresholds)


# -- the dashboard ---------------------------------------------------------------------------------------------------
def _widget(title: str, metrics: list[list[Any]], region: str, stat: str = "Sum") -> dict[str, Any]:
    return {"type": "metric", "width": 12, "height": 6, "properties": {
        "title": title, "metrics": metrics, "region": region, "stat": stat, "period": PERIOD_DASHBOARD,
        "view": "timeSeries"}}


def compile_dashboard(ctx: StackContext, handles: list[Handle], metrics: list[Metric]) -> None:
    region = region_of(ctx)
    widgets: list[dict[str, Any]] = []
    for handle in handles:
        resource = handle.resource
        if isinstance(resource, Function):
            name = ctx.physical_name(resource)
            widgets.append(_widget(f"{resource.address}: invocations, errors, throttles", [
                ["AWS/Lambda", metric, "FunctionName", name] for metric in ("Invocations", "Errors", "Throttles")],
                region))
            widgets.append(_widget(f"{resource.address}: duration (p95, ms)",
                                   [["AWS/Lambda", "Duration", "FunctionName", name]], region, "p95"))
        elif isinstance(resource, Cdn):
            dist = handle.constructs["distribution"].ref("id")
            widgets.append(_widget(f"{resource.address}: requests", [
                ["AWS/CloudFront", "Requests", "DistributionId", dist, "Region", "Global"]], CLOUDFRONT_REGION))
            widgets.append(_widget(f"{resource.address}: 5xx error rate (%)", [
                ["AWS/CloudFront", "5xxErrorRate", "DistributionId", dist, "Region", "Global"]], CLOUDFRONT_REGION,
                "Average"))
    namespace = contract.metrics_namespace(ctx.env.name_prefix, ctx.env.name)
    for metric in metrics:
        widgets.append(_widget(f"{ctx.service.name}: {metric.name} ({metric.unit})" + (
            f" - {metric.description}" if metric.description else ""),
            [[namespace, metric.name, "service", ctx.service.name]], region,
            "Sum" if metric.unit == "Count" else "Average"))
    if not widgets:
        return
    for index, widget in enumerate(widgets):
        widget["x"], widget["y"] = (index % 2) * 12, (index // 2) * 6
    ctx.resource("aws_cloudwatch_dashboard", "platform_dashboard", {
        "dashboard_name": ctx.profile.physical_name(ctx.env, ctx.service.name, "dashboard"),
        "dashboard_body": json.dumps({"widgets": widgets}, separators=(",", ":")),
    })

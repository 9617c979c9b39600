"""Issue 20 through real synthesis (CDKTF, the plug-ins' compilers, the schema check, the conformance analysis and
the guardrails): alarms on by default and routed to the environment's channel, a budget per environment, one
dashboard per service with its business metrics, and `platform check` failing a production environment where a
function notifies no one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from platform_sdk.envs import load_environment
from platform_sdk.errors import PlatformError
from platform_sdk.gate import security_check
from platform_sdk.loader import load_services
from platform_sdk.model import Function
from tests.conformance_estates import example, synth, write_project

SHOP = '''
from platform_sdk import Alarms, Bucket, Cdn, Function, Queue, Service, http, queue_message

service = Service("shop", owner="shop-team")
served = service.metric("orders_placed", unit="Count", dimensions=["country"], description="orders")
site = service.add(Bucket("site"))
service.add(Cdn("cdn", origin=site))
api = service.add(Function("api", handler="handler.handle", source="code", triggers=[http()], timeout=10,
                           alarms=Alarms(errors=3)))
api.reads(site)
quiet = service.add(Function("quiet", handler="handler.handle", source="code", alarms=Alarms(enabled=False)))
orders = service.add(Queue("orders", max_attempts=5, alarms=Alarms(oldest_message_age=600)))
api.sends(orders)
worker = service.add(Function("worker", handler="handler.handle", source="code", triggers=[queue_message(orders)]))
'''
BILLING = 'billing_account = "01A2B3-C4D5E6-F7A8B9"\n'
CLOUDS = ('[clouds.aws]\naccount = "111111111111"\nregion = "eu-west-1"\n'
          '[clouds.gcp]\nproject = "acme-shop-123"\nregion = "europe-west1"\n' + BILLING)
CHANNEL = '[alerts]\nemail = ["oncall@example.com"]\nwebhook = ["https://hooks.example.com/x"]\n'
BUDGET = "[budget]\nmonthly = 300\n"


def env(cloud: str, *, protected: bool = False, channel: bool = True, budget: bool = True, extra: str = "") -> str:
    return (f'name_prefix = "acme"\ndefault_cloud = "{cloud}"\n' + ("protected = true\n" if protected else "")
            + CLOUDS + (CHANNEL if channel else "") + (BUDGET if budget else "") + extra)


def resources(synthesized: Any, stack: str, tf_type: str) -> dict[str, Any]:
    return synthesized.documents()[stack].get("resource", {}).get(tf_type, {})


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_project(tmp_path_factory.mktemp("shop") / "estate", {"shop.py": SHOP}, {
        "aws": env("aws", extra='[overrides."shop.api".alarms]\nerrors = 7\n'), "gcp": env("gcp"),
        "bare": env("aws", channel=False, budget=False),
        "prod-aws": env("aws", protected=True, channel=False, budget=False),  # a budget needs a channel
        # a protected GCP CDN needs HTTPS, so a domain
        "prod-gcp": env("gcp", protected=True, channel=False, budget=False,
                        extra='[overrides."shop.cdn"]\ndomain = "shop.example.com"\n'),
        "prod-ok": env("aws", protected=True), "nobill": env("gcp").replace(BILLING, "")})
    return project.root


def test_aws_alarms_route_to_the_base_stacks_topics(shop: Path) -> None:
    from platform_sdk.project import Project

    synthesized = synth(Project(shop), "aws", conformance=True)
    alarms = resources(synthesized, "aws-shop-aws", "aws_cloudwatch_metric_alarm")
    topic = "arn:aws:sns:eu-west-1:111111111111:acme-aws-base-alerts"
    errors = alarms["api_alarm_errors"]
    assert (errors["metric_name"], errors["statistic"], errors["threshold"]) == ("Errors", "Sum", 7)  # env file wins
    assert errors["alarm_actions"] == [topic] and errors["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert errors["dimensions"] == {"FunctionName": "${aws_lambda_function.api_function.function_name}"}
    p95 = alarms["api_alarm_p95_duration"]
    assert (p95["extended_statistic"], p95["threshold"]) == ("p95", 8000)  # 80 % of the 10 s timeout
    cdn = alarms["cdn_alarm_error_rate_5xx"]
    assert (cdn["namespace"], cdn["metric_name"], cdn["region"]) == ("AWS/CloudFront", "5xxErrorRate", "us-east-1")
    assert cdn["alarm_actions"] == ["arn:aws:sns:us-east-1:111111111111:acme-aws-base-alerts"]
    assert not [name for name in alarms if name.startswith("quiet_")], "Alarms(enabled=False) builds none"
    age, dead = alarms["orders_alarm_oldest_message_age"], alarms["orders_alarm_dead_letters"]
    assert (age["namespace"], age["metric_name"], age["threshold"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage", 600)
    assert age["dimensions"] == {"QueueName": "${aws_sqs_queue.orders_queue.name}"}
    assert (dead["metric_name"], dead["threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
    assert dead["dimensions"] == {"QueueName": "${aws_sqs_queue.orders_dlq.name}"}  # the dead-letter queue's
    assert age["alarm_actions"] == dead["alarm_actions"] == [topic]
    base = synthesized.documents()["aws-base-aws"]["resource"]
    assert {t.get("region", "eu-west-1") for t in base["aws_sns_topic"].values()} == {"eu-west-1", "us-east-1"}
    assert {s["protocol"] for s in base["aws_sns_topic_subscription"].values()} == {"email", "https"}
    policy = json.loads(base["aws_sns_topic"]["platform_alerts"]["policy"])
    assert {s["Principal"]["Service"] for s in policy["Statement"]} == {"cloudwatch.amazonaws.com",
                                                                        "budgets.amazonaws.com"}
    (budget,) = base["aws_budgets_budget"].values()
    assert (budget["limit_amount"], budget["limit_unit"], budget["time_unit"]) == ("300", "USD", "MONTHLY")
    assert [n["threshold"] for n in budget["notification"]] == [50, 80, 100]
    assert all(n["subscriber_sns_topic_arns"] == [topic] for n in budget["notification"])
    assert "aws-base-aws" in synthesized.stacks["aws-shop-aws"].dependencies
    dashboard = resources(synthesized, "aws-shop-aws", "aws_cloudwatch_dashboard")["platform_dashboard"]
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    assert [["acme/aws", "orders_placed", "service", "shop"]] in [w["properties"]["metrics"] for w in widgets]
    env_vars = resources(synthesized, "aws-shop-aws", "aws_lambda_function")["api_function"]["environment"]
    assert json.loads(env_vars["variables"]["PLATFORM_METRICS"]) == {
        "namespace": "acme/aws", "metrics": {"orders_placed": {"unit": "Count", "dimensions": ["country"]}}}


def test_gcp_alert_policies_log_metric_dashboard_channels_and_budget(shop: Path) -> None:
    from platform_sdk.project import Project

    synthesized = synth(Project(shop), "gcp", conformance=True)
    policies = resources(synthesized, "gcp-shop-gcp", "google_monitoring_alert_policy")
    errors = policies["api_alarm_errors"]["conditions"][0]["condition_threshold"]
    assert 'resource.labels.service_name = "acme-gcp-shop-api"' in errors["filter"]
    assert 'response_code_class = "5xx"' in errors["filter"] and errors["threshold_value"] == 2  # >= 3
    assert len(policies["api_alarm_errors"]["notification_channels"]) == 2
    cdn = policies["cdn_alarm_error_rate_5xx"]["conditions"][0]["condition_threshold"]
    assert cdn["threshold_value"] == 0.05 and "denominator_filter" in cdn
    age = policies["orders_alarm_oldest_message_age"]["conditions"][0]["condition_threshold"]
    assert 'subscription_id = "acme-gcp-shop-orders"' in age["filter"] and age["threshold_value"] == 599
    assert "pubsub.googleapis.com/subscription/oldest_unacked_message_age" in age["filter"]
    dead = policies["orders_alarm_dead_letters"]["conditions"][0]["condition_threshold"]
    assert 'subscription_id = "acme-gcp-shop-orders-dlq"' in dead["filter"] and dead["threshold_value"] == 0
    assert len(policies["orders_alarm_dead_letters"]["notification_channels"]) == 2
    (metric,) = resources(synthesized, "gcp-shop-gcp", "google_logging_metric").values()
    assert metric["name"] == "acme-gcp-shop-metrics/orders_placed"
    assert 'jsonPayload.platform_metric = "orders_placed"' in metric["filter"]
    assert metric["label_extractors"]["country"] == "EXTRACT(jsonPayload.dimensions.country)"
    dashboard = json.loads(resources(synthesized, "gcp-shop-gcp", "google_monitoring_dashboard")[
        "platform_dashboard"]["dashboard_json"])
    queries = [t["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"] for t in dashboard["mosaicLayout"]["tiles"]]
    assert {"prometheusQuery": "sum(increase(logging_googleapis_com:user_acme_gcp_shop_metrics_orders_placed_sum"
                               "[5m]))"} in queries
    base = synthesized.documents()["gcp-base-gcp"]["resource"]
    assert {c["type"] for c in base["google_monitoring_notification_channel"].values()} == {"email",
                                                                                           "webhook_tokenauth"}
    (budget,) = base["google_billing_budget"].values()
    assert budget["billing_account"] == "01A2B3-C4D5E6-F7A8B9"
    assert [r["threshold_percent"] for r in budget["threshold_rules"]] == [0.5, 0.8, 1.0]
    apis = {r["service"] for r in base["google_project_service"].values()}
    assert {"monitoring.googleapis.com", "logging.googleapis.com", "billingbudgets.googleapis.com"} <= apis


def test_no_channel_no_budget_no_base_on_aws(shop: Path) -> None:
    from platform_sdk.project import Project

    synthesized = synth(Project(shop), "bare", conformance=True)
    assert "bare-base-aws" not in synthesized.stacks
    alarms = resources(synthesized, "bare-shop-aws", "aws_cloudwatch_metric_alarm")
    assert alarms and all(a["alarm_actions"] == [] for a in alarms.values())  # on by default, routed nowhere


def test_a_gcp_budget_without_a_billing_account_is_refused(shop: Path) -> None:
    from platform_sdk.project import Project

    with pytest.raises(PlatformError) as err:
        synth(Project(shop), "nobill")
    assert err.value.key == "clouds.gcp.billing_account" and "nobill.toml" in str(err.value)


@pytest.mark.parametrize("env_name", ["prod-aws", "prod-gcp"])
def test_check_fails_production_functions_that_notify_no_one(shop: Path, env_name: str) -> None:
    from platform_sdk.project import Project

    project = Project(shop)
    environment = load_environment(project.envs_dir / f"{env_name}.toml")
    result = security_check(project, environment, load_services(project.services_dir), run_checkov_scan=False)
    failing = sorted(v.aliases[0] for v in result.failing_guardrails if v.rule == "function.production-alarms")
    assert failing == ["shop.api", "shop.quiet", "shop.worker"] and not result.passed
    assert all("[alerts]" in v.fix for v in result.failing_guardrails)


def test_check_passes_production_with_a_channel_except_where_alarms_are_off(shop: Path) -> None:
    from platform_sdk.project import Project

    project = Project(shop)
    environment = load_environment(project.envs_dir / "prod-ok.toml")
    result = security_check(project, environment, load_services(project.services_dir), run_checkov_scan=False)
    failing = [v.aliases[0] for v in result.failing_guardrails if v.rule == "function.production-alarms"]
    assert failing == ["shop.quiet"]  # Alarms(enabled=False): the one function nobody would hear about


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_every_example_environment_has_routed_alarms_a_channel_and_a_budget(env_name: str) -> None:
    synthesized = example(env_name)  # synthesized with the schema check and the conformance analysis
    docs = synthesized.documents()
    # the estate's own functions: not the platform's helpers (a database's setup function, a CDN's payload-hash
    # edge function), which are Lambda functions too but run no user code and have no alarms of their own
    functions = {r.address for r in synthesized.placements if isinstance(r, Function)}
    alarms = [a for d in docs.values() for a in d.get("resource", {}).get("aws_cloudwatch_metric_alarm", {}).values()]
    policies = [p for d in docs.values()
                for p in d.get("resource", {}).get("google_monitoring_alert_policy", {}).values()]
    assert len(alarms) + len(policies) >= 3 * len(functions) > 0
    owned: dict[str, set[str]] = {fn: set() for fn in functions}
    for info in synthesized.stacks.values():
        for address, owner in info.owners.items():
            tf_type, _, name = address.partition(".")
            if owner in owned and tf_type in ("aws_cloudwatch_metric_alarm", "google_monitoring_alert_policy"):
                owned[owner].add(name.partition("_alarm_")[2])
    assert owned == {fn: {"errors", "throttles", "p95_duration"} for fn in functions}
    assert all(a["alarm_actions"] for a in alarms) and all(p["notification_channels"] for p in policies)
    budgets = [b for d in docs.values() for t in ("aws_budgets_budget", "google_billing_budget")
               for b in d.get("resource", {}).get(t, {}).values()]
    clouds = {info.cloud for info in synthesized.stacks.values()}
    assert len(budgets) == len(clouds)
    dashboards = [n for n, d in docs.items() for t in ("aws_cloudwatch_dashboard", "google_monitoring_dashboard")
                  if t in d.get("resource", {})]
    assert len(dashboards) == len([n for n in synthesized.stacks if "-base-" not in n])

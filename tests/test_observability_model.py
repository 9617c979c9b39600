"""Issue 20 in the model and environment files: alarm thresholds (declaration, profile, environment file), business
metrics a service declares, the alert channel and the budget; every bad value is one message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_sdk import Alarms, Bucket, Cdn, Function, Queue, Service
from platform_sdk.envs import load_environment
from platform_sdk.errors import EnvironmentError_, ModelError
from platform_sdk.model import alarm_thresholds
from platform_sdk.synth.overrides import apply_overrides

ENV = 'name_prefix = "acme"\ndefault_cloud = "aws"\n[clouds.aws]\nregion = "eu-west-1"\n'


def thresholds(kind: str, declared: Alarms | None, profile: Alarms | None = None,
               timeout: int | None = None) -> dict[str, float]:
    return {t.key: t.threshold for t in alarm_thresholds(kind, declared, profile, timeout)}


def test_alarms_are_on_by_default_with_documented_thresholds() -> None:
    fn = Function("api", handler="api.handle", timeout=10)
    assert thresholds("function", fn.alarms, timeout=fn.timeout) == {"errors": 1, "throttles": 1,
                                                                      "p95_duration": 8000}
    assert thresholds("cdn", Alarms()) == {"error_rate_5xx": 5}
    assert {t.period for t in alarm_thresholds("function", fn.alarms, None, 10)} == {300}


def test_declaration_beats_profile_beats_defaults_and_zero_turns_one_alarm_off() -> None:
    profile = Alarms(errors=10, throttles=7, period=600)
    got = alarm_thresholds("function", Alarms(errors=3, p95_duration=0), profile, 30)
    assert {t.key: t.threshold for t in got} == {"errors": 3, "throttles": 7}
    assert {t.period for t in got} == {600}
    assert alarm_thresholds("function", Alarms(enabled=False), profile, 30) == []


@pytest.mark.parametrize(("alarms", "key", "needle"), [
    (Alarms(errors=-1), "alarms.errors", "whole number >= 0"),
    (Alarms(errors=1.5), "alarms.errors", "whole number >= 0"),  # type: ignore[arg-type]
    (Alarms(p95_duration=True), "alarms.p95_duration", "milliseconds"),  # type: ignore[arg-type]
    (Alarms(period=90), "alarms.period", "from 60 to 86400"),
    (Alarms(enabled="yes"), "alarms.enabled", "true or false"),  # type: ignore[arg-type]
    (Alarms(error_rate_5xx=5), "alarms.error_rate_5xx", "alarm of CDNs; a function's alarms are: errors"),
    ({"errors": 1}, "alarms", "Alarms(...)"),
])
def test_a_bad_function_alarm_names_the_key_the_value_and_the_line(alarms: object, key: str, needle: str) -> None:
    with pytest.raises(ModelError) as err:
        Function("api", handler="api.handle", alarms=alarms)  # type: ignore[arg-type]
    assert err.value.key == key and needle in str(err.value)
    assert err.value.file == __file__ and err.value.line is not None


def test_a_cdn_takes_only_its_own_alarm() -> None:
    site = Bucket("site")
    assert Cdn("cdn", origin=site, alarms=Alarms(error_rate_5xx=2.5)).alarms.error_rate_5xx == 2.5
    with pytest.raises(ModelError) as err:
        Cdn("cdn", origin=site, alarms=Alarms(throttles=3))
    assert err.value.key == "alarms.throttles" and "alarm of functions" in str(err.value)
    with pytest.raises(ModelError, match="percentage from 0 to 100"):
        Cdn("cdn", origin=site, alarms=Alarms(error_rate_5xx=120))


def test_a_queue_alarms_on_its_oldest_message_and_its_dead_letters() -> None:
    assert thresholds("queue", Queue("outbox").alarms) == {"oldest_message_age": 900, "dead_letters": 1}
    assert thresholds("queue", Alarms(oldest_message_age=60, dead_letters=0)) == {"oldest_message_age": 60}
    with pytest.raises(ModelError) as err:
        Queue("outbox", alarms=Alarms(errors=3))
    assert err.value.key == "alarms.errors" and "alarm of functions; a queue's alarms are: oldest_message_age" in \
        str(err.value)
    with pytest.raises(ModelError) as err:
        Queue("outbox", alarms=Alarms(oldest_message_age=-5))
    assert err.value.key == "alarms.oldest_message_age" and "seconds" in str(err.value)
    with pytest.raises(ModelError, match="Alarms"):
        Queue("outbox", alarms={"dead_letters": 1})  # type: ignore[arg-type]


def test_services_declare_metrics_once_with_valid_names_units_and_dimensions() -> None:
    service = Service("thumbnails")
    served = service.metric("thumbnails_served", unit="Count", dimensions=["width"])
    assert served.dimensions == ("width",) and service.metrics == [served]
    for kwargs, key in [({"name": "Thumbnails"}, "name"), ({"name": "x", "unit": "Furlongs"}, "unit"),
                        ({"name": "y", "dimensions": ["a", "a"]}, "dimensions"),
                        ({"name": "z", "dimensions": "width"}, "dimensions"),
                        ({"name": "w", "dimensions": ["Width"]}, "dimensions")]:
        with pytest.raises(ModelError) as err:
            service.metric(**kwargs)  # type: ignore[arg-type]
        assert err.value.key == key and err.value.file == __file__
    with pytest.raises(ModelError, match="two metrics named 'thumbnails_served'"):
        service.metric("thumbnails_served")


def _estate() -> list[Service]:
    service = Service("web")
    service.add(Function("api", handler="api.handle", timeout=20, alarms=Alarms(errors=2, period=600)))
    return [service]


def test_the_environment_file_overrides_thresholds_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "qa.toml"
    path.write_text(ENV + '[overrides."web.api".alarms]\nerrors = 9\np95_duration = 1500\n')
    services = _estate()
    apply_overrides(load_environment(path), services)
    fn = services[0].functions[0]
    assert fn.alarms == Alarms(errors=9, p95_duration=1500, period=600)


@pytest.mark.parametrize(("table", "key", "needle"), [
    ("errors = \"5\"", 'overrides."web.api".alarms.errors', "whole number"),
    ("erors = 5", 'overrides."web.api".alarms.erors', "did you mean 'errors'"),
    ("error_rate_5xx = 5", 'overrides."web.api".alarms.error_rate_5xx', "alarm of CDNs"),
])
def test_a_bad_override_names_the_file_and_key(tmp_path: Path, table: str, key: str, needle: str) -> None:
    path = tmp_path / "qa.toml"
    path.write_text(ENV + f'[overrides."web.api".alarms]\n{table}\n')
    with pytest.raises(EnvironmentError_) as err:
        apply_overrides(load_environment(path), _estate())
    assert err.value.key == key and needle in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(("text", "key", "needle"), [
    ("[alerts]\n", "alerts", "at least one email address or webhook URL"),
    ('[alerts]\nemail = ["not-an-address"]\n', "alerts.email.0", "must be an email address"),
    ('[alerts]\nwebhook = ["http://hooks.example.com/x"]\n', "alerts.webhook.0", "must be an https:// URL"),
    ("[budget]\nmonthly = 0\n", "budget.monthly", "greater than 0"),
    ("[budget]\nmonthly = 10\n", "budget", "a budget notifies the environment's [alerts] channel, and this "
     "environment has none"),  # it was accepted: a budget with no notification at all
    ('[budget]\nmonthly = 10\ncurrency = "usd"\n', "budget.currency", "must be an ISO 4217 currency code"),
    ("[budget]\ncurrency = \"EUR\"\n", "budget.monthly", "required key is missing"),
    ('[clouds.gcp]\nregion = "europe-west1"\nbilling_account = "nope"\n', "clouds.gcp.billing_account",
     "must be a Cloud Billing account id"),
])
def test_bad_channel_and_budget_sections_are_refused(tmp_path: Path, text: str, key: str, needle: str) -> None:
    path = tmp_path / "qa.toml"
    path.write_text(ENV + text)
    with pytest.raises(EnvironmentError_) as err:
        load_environment(path)
    assert err.value.key == key and needle in str(err.value), str(err.value)


def test_channel_and_budget_load(tmp_path: Path) -> None:
    path = tmp_path / "qa.toml"
    path.write_text(ENV + '[alerts]\nemail = ["ops@example.com"]\nwebhook = ["https://hooks.example.com/a"]\n'
                    "[budget]\nmonthly = 250\n")
    env = load_environment(path)
    assert env.alerts is not None and env.alerts.email == ["ops@example.com"]
    assert env.budget is not None and (env.budget.monthly, env.budget.currency, env.budget.alerts_at) == (
        250, "USD", [50, 80, 100])

"""Authenticated HTTP (issue 19): `http(auth=jwt(...))` verifies bearer tokens in the entry adapter against the
issuer's JWKS (served here on the loopback), identically on every cloud, and hands the verified claims to the
handler; through the real local gateway unauthenticated requests get 401. The compiled clouds: JWT triggers stay
open at the cloud level (the adapter checks), IAM triggers get AWS_IAM / no allUsers, and the principals the
environment file names are admitted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from platform_sdk.errors import ModelError
from platform_sdk.localcloud.dev import Gateway, ServerThread, bind, roots_for_env
from platform_sdk.model import http, jwt
from platform_sdk.runtime import auth as runtime_auth
from tests.conformance_estates import CLOUDS, write_project
from tests.terraform_fixtures import Cli, tf_binary_fixture  # noqa: F401


class Issuer:
    """An OpenID issuer on 127.0.0.1: one RSA key, its JWKS, and tokens signed with it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        self.fetches = 0
        jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))

        async def keys(request: Any) -> JSONResponse:
            self.fetches += 1
            return JSONResponse({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

        self.server = ServerThread(Starlette(routes=[Route("/.well-known/jwks.json", keys)]), bind()).start()
        self.url = self.server.url

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "shop", "sub": "ada", "exp": now + 300, "iat": now, **claims}
        return pyjwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.server.stop()


def test_jwt_settings_are_checked_where_they_are_declared() -> None:
    with pytest.raises(ModelError, match="issuer must be an https:// URL"):
        jwt("http://login.example.com", "shop")
    with pytest.raises(ModelError, match="algorithms must be"):
        jwt("https://login.example.com", "shop", algorithms=("HS256",))
    with pytest.raises(ModelError, match="drop public=False"):
        http(public=False, auth=jwt("https://login.example.com", "shop"))
    with pytest.raises(ModelError, match='auth must be "iam"'):
        http(auth="basic")  # type: ignore[arg-type]
    assert http(public=False).iam and http(auth="iam").public is False
    assert jwt("https://login.example.com/", "a").keys_url == "https://login.example.com/.well-known/jwks.json"


ESTATE = '''
from platform_sdk import Function, Service, http, jwt

svc = Service("shop", owner="team")
svc.add(Function("me", handler="code.me", source="code", triggers=[http(auth=jwt("{issuer}", "shop"))]))
'''
CODE = '''
from platform_sdk.runtime import HttpResponse


def me(request):
    return HttpResponse(200, {"sub": request.claims["sub"], "aud": request.claims["aud"]})
'''
LOCAL_ENV = 'name_prefix = "acme"\ndefault_cloud = "local"\n[state]\nbackend = "local"\npath = ".platform/state"\n'


def test_a_jwt_trigger_admits_valid_tokens_only_through_the_real_gateway(issuer: Issuer, tmp_path: Path,
                                                                         tf_binary: Path) -> None:
    project = write_project(tmp_path / "estate", {"shop.py": ESTATE.format(issuer=issuer.url)}, {"local": LOCAL_ENV},
                            sources={"code/code.py": CODE})
    applied = Cli(tf_binary)(project.root, "apply", "--env", "local", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    from platform_sdk.envs import load_environment

    gateway = Gateway(roots_for_env(project.root, load_environment(project.envs_dir / "local.toml"))).start()
    try:
        url = f"{gateway.url}/fn/acme-local-shop-me"
        ok = requests.get(url, headers={"authorization": f"Bearer {issuer.token()}"})
        assert ok.status_code == 200 and ok.json() == {"sub": "ada", "aud": "shop"}, "claims reach the handler"
        missing = requests.get(url)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert "bearer token is required" in missing.json()["reason"]
        for bad, why in ((issuer.token(aud="other"), "Audience"), (issuer.token(exp=int(time.time()) - 3600),
                                                                   "expired"),
                         (issuer.token(iss="https://evil.example.com"), "issuer"),
                         (issuer.token()[:-4] + "AAAA", "Signature")):
            refused = requests.get(url, headers={"authorization": f"Bearer {bad}"})
            assert refused.status_code == 401 and why.lower() in refused.json()["reason"].lower(), refused.text
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = pyjwt.encode({"iss": issuer.url, "aud": "shop", "sub": "x", "exp": int(time.time()) + 60}, other,
                              algorithm="RS256", headers={"kid": issuer.kid})
        assert requests.get(url, headers={"authorization": f"Bearer {forged}"}).status_code == 401
    finally:
        gateway.stop()


def test_keys_are_cached_and_an_unknown_key_id_refreshes_them_at_most_so_often(issuer: Issuer,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_auth._keys.clear()
    policy = runtime_auth.JwtPolicy(issuer.url, "shop", f"{issuer.url}/.well-known/jwks.json", ("RS256",))
    before = issuer.fetches
    for _ in range(3):
        assert runtime_auth.verify({"authorization": f"Bearer {issuer.token()}"}, policy)["sub"] == "ada"
    assert issuer.fetches == before + 1, "fetched once, then cached"
    unknown = pyjwt.encode({"iss": issuer.url, "aud": "shop", "exp": int(time.time()) + 60}, issuer.key,
                           algorithm="RS256", headers={"kid": "made-up"})
    for _ in range(3):
        with pytest.raises(runtime_auth.Unauthorized, match="key id 'made-up'"):
            runtime_auth.verify({"authorization": f"Bearer {unknown}"}, policy)
    assert issuer.fetches == before + 1, "made-up key ids cost no fetch within JWKS_MIN_REFRESH_SECONDS"


def compiled(tmp_path: Path, env: str, estate: str, extra: str = "") -> dict[str, Any]:
    from tests.conformance_estates import synth

    text = 'name_prefix = "acme"\n' + f'default_cloud = "{env}"\n' + CLOUDS + extra
    project = write_project(tmp_path / "estate", {"svc.py": estate}, {env: text})
    result = synth(project, env)
    from platform_sdk.synth.schema_check import check_outdir

    assert check_outdir(result.outdir) == []
    # the service's own stack (on GCP a base stack next to it enables the project's APIs)
    (name,) = [name for name, info in result.stacks.items() if info.service == "svc"]
    return json.loads((result.outdir / "stacks" / name / "cdk.tf.json").read_text())["resource"]


IAM_ESTATE = '''
from platform_sdk import Function, Service, http, jwt

svc = Service("svc", owner="team")
inner = svc.add(Function("inner", handler="handler.handle", source="code", triggers=[http(auth="iam")]))
outer = svc.add(Function("outer", handler="handler.handle", source="code",
                         triggers=[http(auth=jwt("https://login.example.com", "svc"))]))
outer.invokes(inner)
'''


def test_aws_iam_trigger_admits_granted_functions_and_named_principals(tmp_path: Path) -> None:
    role = "arn:aws:iam::333333333333:role/ci-deployer"
    resources = compiled(tmp_path, "aws", IAM_ESTATE, f'\n[overrides."svc.inner"]\ninvokers = "{role}"\n')
    urls = {k: v["authorization_type"] for k, v in resources["aws_lambda_function_url"].items()}
    assert urls == {"inner_url": "AWS_IAM", "outer_url": "NONE"}, "jwt is checked by the adapter: open URL"
    permissions = {k: (v["action"], v["principal"]) for k, v in resources["aws_lambda_permission"].items()
                   if k.startswith("inner")}
    assert permissions == {"inner_invoker1_url": ("lambda:InvokeFunctionUrl", role),
                           "inner_invoker1": ("lambda:InvokeFunction", role)}, "no '*' on an IAM-protected function"
    policy = json.loads(resources["aws_iam_role_policy"]["outer_policy"]["policy"])
    (call,) = [s for s in policy["Statement"] if s["Sid"] == "FunctionSvcInnerFunction"]
    assert call["Action"] == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert call["Resource"] == "${aws_lambda_function.inner_function.arn}"


def test_gcp_iam_trigger_admits_granted_functions_and_named_members_only(tmp_path: Path) -> None:
    member = "serviceAccount:ci@acme-conf-123.iam.gserviceaccount.com"
    resources = compiled(tmp_path, "gcp", IAM_ESTATE, f'\n[overrides."svc.inner"]\ninvokers = "{member}"\n')
    invokers = {(v["service"], v["member"]) for v in resources["google_cloud_run_service_iam_member"].values()}
    inner = "${google_cloudfunctions2_function.inner.service_config.0.service}"
    assert (inner, member) in invokers and (inner, "${google_service_account.outer_sa.member}") in invokers
    assert not any(m == "allUsers" and s == inner for s, m in invokers), "an IAM trigger is never public"
    function = resources["google_cloudfunctions2_function"]["inner"]["service_config"]
    assert function["ingress_settings"] == "ALLOW_ALL", "another function calls it over the internet"


def test_a_named_principal_must_look_like_one(tmp_path: Path) -> None:
    from platform_sdk.errors import PlatformError

    with pytest.raises(PlatformError, match="invokers must be IAM role or user ARNs"):
        compiled(tmp_path, "aws", IAM_ESTATE, '\n[overrides."svc.inner"]\ninvokers = "everyone"\n')

"""gRPC servicer (plugin protocol 6) that drives the local cloud resources.

We reuse the `tf` framework for protobufs, schemas, value encoding and provider-level calls, but
own the resource lifecycle RPCs because `tf` 1.0.1:
- skips `plan()` on create (so computed values could not be shown in plans) and never passes
  the config to plan (so optional arguments with defaults could not be materialized);
- lets exceptions escape as gRPC errors ("rpc error: code = Unknown"), which Terraform shows as
  a provider failure and, for a failed update/delete, can drop the object from state.
Here every RPC is guarded: an exception becomes an error diagnostic, and a failed apply or refresh
hands Terraform back the prior state so nothing is forgotten.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

import grpc
from tf.gen import tfplugin_pb2 as pb
from tf.provider import ProviderServicer
from tf.types import Unknown
from tf.utils import Diagnostics, _to_attribute_path, read_dynamic_value, to_dynamic_value

from platform_sdk.localcloud import switches
from platform_sdk.localcloud.base import LocalResource, State
from platform_sdk.localcloud.provider import LocalCloudProvider

_NULL = pb.DynamicValue(msgpack=b"\xc0")  # msgpack nil: an explicit null object

_OPERATION = {
    "GetProviderSchema": "reading the schema",
    "ValidateProviderConfig": "validating the provider config",
    "ConfigureProvider": "configuring the provider",
    "ValidateResourceConfig": "validating",
    "UpgradeResourceState": "upgrading state",
    "ReadResource": "refreshing",
    "PlanResourceChange": "planning",
    "ApplyResourceChange": "applying",
    "ImportResourceState": "importing",
}


def _exception_diagnostics(rpc: str, request: Any, exc: BaseException) -> Diagnostics:
    """One error diagnostic for an unexpected exception; the full traceback goes to stderr (TF_LOG)."""
    traceback.print_exception(exc, file=sys.stderr)
    type_name = getattr(request, "type_name", "") or "provider"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return Diagnostics().add_error(
        f"localcloud: {type_name}: {_OPERATION.get(rpc, rpc)} failed: {type(exc).__name__}: {exc}",
        f"The local cloud provider caught this exception and reported it instead of crashing{where}. "
        "Set TF_LOG=DEBUG to see the traceback.",
    )


def _guarded(fallback: Callable[[Any], dict[str, Any]] | None = None) -> Callable[[Callable], Callable]:
    """Turn any exception raised by an RPC into an error diagnostic in that RPC's response."""

    def decorate(method: Callable) -> Callable:
        response_cls = getattr(pb, method.__name__).Response

        @functools.wraps(method)
        def wrapper(self: LocalCloudServicer, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return method(self, request, context)
            except Exception as exc:  # noqa: BLE001 - the whole point: never crash Terraform
                diags = _exception_diagnostics(method.__name__, request, exc)
                extra = fallback(request) if fallback else {}
                return response_cls(diagnostics=diags.to_pb(), **extra)

        return wrapper

    return decorate


def decode_state(cls: type[LocalResource], value: pb.DynamicValue) -> State | None:
    """Wire value -> Python dict (None for a null object), with Unknown kept as the sentinel."""
    raw = read_dynamic_value(value)
    if raw is None:
        return None
    attrs = cls.attribute_map()
    return {k: (v if v is Unknown else attrs[k].type.decode(v)) for k, v in raw.items() if k in attrs}


def encode_state(cls: type[LocalResource], state: State | None) -> pb.DynamicValue:
    """Python dict -> wire value with every schema attribute present (Terraform requires the full object)."""
    if state is None:
        return _NULL
    encoded = {}
    for name, attr in cls.attribute_map().items():
        value = state.get(name)
        encoded[name] = value if value is Unknown else attr.type.encode(value)
    return to_dynamic_value(encoded)


def _changed(a: Any, b: Any) -> bool:
    return a is Unknown or b is Unknown or a != b


class LocalCloudServicer(ProviderServicer):
    """The provider's gRPC service; one instance per plugin process (one per Terraform provider config)."""

    app: LocalCloudProvider

    def __init__(self, provider: LocalCloudProvider) -> None:
        super().__init__(provider)

    def _class(self, type_name: str) -> type[LocalResource]:
        try:
            return self._get_res_cls(type_name)  # type: ignore[return-value]
        except KeyError:
            raise LookupError(f"unknown resource type {type_name!r}") from None

    # ----- provider-level calls: `tf` implementations, guarded -----
    @_guarded()
    def GetProviderSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return super().GetProviderSchema(request, context)

    @_guarded()
    def ValidateProviderConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return super().ValidateProviderConfig(request, context)

    @_guarded()
    def ConfigureProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        return super().ConfigureProvider(request, context)

    def StopProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        # Nothing long-running to interrupt; `tf` answers UNIMPLEMENTED, which Terraform logs as an error.
        return pb.StopProvider.Response()

    # ----- resources -----
    @_guarded()
    def ValidateResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        cls = self._class(request.type_name)
        diags = Diagnostics()
        cls(self.app).validate(diags, decode_state(cls, request.config) or {})
        return pb.ValidateResourceConfig.Response(diagnostics=diags.to_pb())

    @_guarded()
    def UpgradeResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        cls = self._class(request.type_name)
        diags = Diagnostics()
        if not request.raw_state.json:
            diags.add_error(f"{request.type_name}: state in legacy flatmap format cannot be upgraded")
            return pb.UpgradeResourceState.Response(diagnostics=diags.to_pb())
        raw = json.loads(request.raw_state.json)
        # Keep known attributes, fill new ones with null, drop removed ones: state must match the schema.
        state = {name: raw.get(name) for name in cls.attribute_map()}
        upgraded = encode_state(cls, state)
        return pb.UpgradeResourceState.Response(upgraded_state=upgraded, diagnostics=diags.to_pb())

    @_guarded(lambda request: {"new_state": request.current_state})
    def ReadResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        cls = self._class(request.type_name)
        diags = Diagnostics()
        current = decode_state(cls, request.current_state)
        if current is None:
            return pb.ReadResource.Response(new_state=_NULL)
        new = cls(self.app).read(diags, current)
        if diags.has_errors() and new is None:
            return pb.ReadResource.Response(new_state=request.current_state, diagnostics=diags.to_pb())
        return pb.ReadResource.Response(new_state=encode_state(cls, new), diagnostics=diags.to_pb())

    @_guarded()
    def PlanResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        cls = self._class(request.type_name)
        attrs = cls.attribute_map()
        prior = decode_state(cls, request.prior_state)
        proposed = decode_state(cls, request.proposed_new_state)
        if proposed is None:  # destroy: nothing to plan
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        config = decode_state(cls, request.config) or {}
        diags = Diagnostics()
        resource = cls(self.app)
        # Validate again: references that were unknown at validation time are known now.
        resource.validate(diags, config)
        if diags.has_errors():
            return pb.PlanResourceChange.Response(diagnostics=diags.to_pb())

        planned = dict(proposed)
        for name, attr in attrs.items():
            if not attr.computed or config.get(name) is not None:
                continue  # Terraform requires planned == config for everything the user set
            if attr.default is not Unknown:
                planned[name] = attr.default  # optional with default: unset means the default
            elif prior is None:
                planned[name] = Unknown  # computed-only on create: the resource fills what it can
        planned = resource.plan(diags, prior, planned)

        requires_replace = []
        if prior is not None:
            for name, attr in attrs.items():
                if attr.requires_replace and _changed(prior.get(name), planned.get(name)):
                    requires_replace.append(_to_attribute_path([name]))
        return pb.PlanResourceChange.Response(
            planned_state=encode_state(cls, planned),
            requires_replace=requires_replace,
            diagnostics=diags.to_pb(),
        )

    @_guarded(lambda request: {"new_state": request.prior_state})
    def ApplyResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        switches.before_apply()
        cls = self._class(request.type_name)
        prior = decode_state(cls, request.prior_state)
        planned = decode_state(cls, request.planned_state)
        resource = cls(self.app)
        diags = Diagnostics()
        if prior is None and planned is not None:
            new = resource.create(diags, planned)
        elif planned is None and prior is not None:
            resource.delete(diags, prior)
            new = prior if diags.has_errors() else None  # refused: the object stays in state
        elif prior is not None and planned is not None:
            new = resource.update(diags, prior, planned)
            if diags.has_errors() and new is None:
                new = prior  # failed update: keep tracking the object as it was
        else:
            new = None
        return pb.ApplyResourceChange.Response(new_state=encode_state(cls, new), diagnostics=diags.to_pb())

    @_guarded()
    def ImportResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        """`terraform import`: every local kind is imported by its name (LocalResource.import_state)."""
        cls = self._class(request.type_name)
        diags = Diagnostics()
        state = cls(self.app).import_state(diags, request.id)
        imported = [] if state is None or diags.has_errors() else [
            pb.ImportResourceState.ImportedResource(type_name=request.type_name, state=encode_state(cls, state))]
        return pb.ImportResourceState.Response(imported_resources=imported, diagnostics=diags.to_pb())

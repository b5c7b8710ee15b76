"""prefect.yaml as the one list of tenants and deployments (read by `hgsync run/serve`, edited by
`hgsync tenant add`). Comments and anchors survive edits (ruamel round-trip). Reading and editing
stay in one module (about 400 lines) because both must agree on one format: the anchored tenant
block, the schedule forms (interval anchored at the tenant's second, older minute crons) and the
YAML 1.1 quoting `prefect deploy` needs."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from mappings.schedules import (
    assign_offset,
    every_cadence,
    flow_offset,
    schedule_offset,
    shifted_cron,
)
from mappings.tenant import TenantConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"

# flow short name -> (entrypoint, schedule anchor or None, description)
FLOWS: dict[str, tuple[str, str | None, str]] = {
    "catalog": (
        "flows/catalog.py:catalog_pull",
        "twice_daily",
        "products, families, after-tax prices and free-use stock, Gestionix -> Handy (P1-P8, I1-I3).",
    ),
    "customers": (
        "flows/customers.py:customer_sync",
        "twice_daily",
        "customers of the sucursal, zone General, seller assignment, Gestionix -> Handy (C1-C7).",
    ),
    "orders": (
        "flows/orders.py:order_push",
        "every_ten_minutes",
        "new Handy orders and sales -> Gestionix pedidos/ventas, exactly once (O1-O11).",
    ),
    "deletions": (
        "flows/deletions.py:deletion_sync",
        "every_ten_minutes",
        "deleted Handy orders delete their Gestionix documents (D1-D4).",
    ),
    "activate": (
        "flows/activate.py:activate",
        None,
        "activation checks (A4), first full catalog and customer sync, cursors set to now.",
    ),
    "replay": (
        "flows/replay.py:replay",
        None,
        "retry dead letters now (one order with `key`, else all) and report each outcome (X1).",
    ),
    "reconcile": (
        "flows/reconcile.py:reconcile",
        "daily_reconcile",
        "yesterday's Handy orders vs bindings vs Gestionix documents; Failed when they differ (X1).",
    ),
    "explain": (
        "flows/explain.py:explain",
        None,
        "the story of one order, product or customer and why it is (not) in the other system (X5).",
    ),
}


class DeploymentFileError(Exception):
    """prefect.yaml is missing something we need; the message says what."""


@dataclass
class DeploymentSpec:
    name: str
    flow_key: str
    entrypoint: str
    parameters: dict[str, Any]
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def tenant(self) -> TenantConfig:
        return TenantConfig(**self.parameters["tenant"])

    def load_flow(self):
        module_path, function = self.entrypoint.split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        return getattr(module, function)


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    # Non-ASCII is written escaped inside double quotes: prefect deploy opens the file in the
    # locale's encoding, which is not UTF-8 everywhere.
    yaml.allow_unicode = False
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


# prefect deploy reads prefect.yaml with PyYAML's safe_load, a YAML 1.1 reader, while ruamel
# writes YAML 1.2: plain `yes`, `off`, `~`, `12:30`, `0123` or `2026-11-27` would come back as a
# bool, None, 750, 83 or a date. A string is written plain only when it is made of ordinary
# characters AND PyYAML reads it back as that same string; anything else is double-quoted.
_ORDINARY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./@+()-]*(?: [A-Za-z0-9_./@+()-]+)*")
_YAML_1_1 = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# libyaml's safe loader when PyYAML has it: the same YAML 1.1 reading, ~8x faster on a file with
# hundreds of tenants (`tenant add` reads the file to pick the tenant's schedule minute).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_as_written(value: str) -> bool:
    """True when `value` written as a plain scalar is read back as the same string by YAML 1.1."""
    return bool(_ORDINARY.fullmatch(value)) and (
        _YAML_1_1.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
    )


def quoted_where_needed(value: Any) -> Any:
    """`value` (mappings, lists, scalars) with every string key or value that a YAML 1.1 reader
    would not read back as written turned into a double-quoted scalar."""
    if isinstance(value, dict):
        quoted = CommentedMap()
        for key, item in value.items():
            quoted[quoted_where_needed(key)] = quoted_where_needed(item)
        return quoted
    if isinstance(value, list):
        return CommentedSeq([quoted_where_needed(item) for item in value])
    if isinstance(value, str) and not isinstance(value, DoubleQuotedScalarString):
        return value if read_as_written(value) else DoubleQuotedScalarString(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read(path: Path = DEFAULT_PREFECT_YAML) -> dict[str, Any]:
    if not path.exists():
        raise DeploymentFileError(f"{path} not found")
    with path.open(encoding="utf-8") as handle:
        return _yaml().load(handle)


def read_as_prefect(path: Path = DEFAULT_PREFECT_YAML) -> dict[str, Any]:
    """The file as `prefect deploy` reads it (PyYAML safe_load, YAML 1.1), so `hgsync run` and
    `hgsync serve` get the same parameters as the deployed runs."""
    if not path.exists():
        raise DeploymentFileError(f"{path} not found")
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_SAFE_LOADER) or {}


def deployments(path: Path = DEFAULT_PREFECT_YAML) -> list[DeploymentSpec]:
    entry_to_key = {entry: key for key, (entry, _, _) in FLOWS.items()}
    specs = []
    for raw in read_as_prefect(path).get("deployments") or []:
        raw = _plain(raw)
        specs.append(
            DeploymentSpec(
                name=raw["name"],
                flow_key=entry_to_key.get(raw["entrypoint"], raw["entrypoint"]),
                entrypoint=raw["entrypoint"],
                parameters=raw.get("parameters") or {},
                schedules=raw.get("schedules") or [],
                concurrency_limit=raw.get("concurrency_limit"),
                tags=raw.get("tags") or [],
                description=raw.get("description") or "",
            )
        )
    return specs


def tenants(path: Path = DEFAULT_PREFECT_YAML) -> dict[str, TenantConfig]:
    found = _plain((read_as_prefect(path).get("definitions") or {}).get("tenants") or {})
    return {slug: TenantConfig(**params) for slug, params in found.items()}


def tenant(slug: str, path: Path = DEFAULT_PREFECT_YAML) -> TenantConfig:
    known = tenants(path)
    if slug not in known:
        raise DeploymentFileError(
            f"tenant {slug!r} is not in {path.name}; known tenants: {', '.join(sorted(known)) or 'none'}"
        )
    return known[slug]


def find(slug: str, flow_key: str, path: Path = DEFAULT_PREFECT_YAML) -> DeploymentSpec:
    tenant(slug, path)  # an unknown tenant: the error lists the known ones
    if flow_key not in FLOWS:
        raise DeploymentFileError(f"no flow {flow_key!r}; the flows are: {', '.join(FLOWS)}")
    name = f"{slug}-{flow_key}"
    for spec in deployments(path):
        if spec.name == name:
            return spec
    raise DeploymentFileError(f"deployment {name!r} is not in {path.name}")


def schedule_offsets(path: Path = DEFAULT_PREFECT_YAML) -> dict[str, int]:
    """{tenant slug: offset in seconds inside the S2 cadence}, read from its order push schedule
    (an interval schedule, or a cron of whole minutes in files written before)."""
    offsets = {}
    for spec in deployments(path):
        if spec.flow_key == "orders" and spec.schedules:
            offset = schedule_offset(spec.schedules[0])
            if offset is not None:
                offsets[spec.parameters["tenant"]["slug"]] = offset
    return offsets


def _staggered(schedules: CommentedSeq, seconds: int) -> CommentedSeq:
    """The anchored schedules themselves when unshifted (the file stays short), else copies moved
    `seconds` later (timezone and paused state kept): a cadence cron becomes the interval
    schedule firing at that second of the cadence (cron has no seconds); a daily cron moves by
    the whole minutes."""
    if seconds == 0:
        return schedules
    copies = CommentedSeq()
    for schedule in schedules:
        cron = str(schedule["cron"])
        copy = CommentedMap()
        try:
            moved = every_cadence(cron, seconds)
        except ValueError:
            copy["cron"] = DoubleQuotedScalarString(shifted_cron(cron, seconds // 60))
        else:
            copy["interval"] = moved["interval"]
            copy["anchor_date"] = DoubleQuotedScalarString(moved["anchor_date"])
        for key, value in schedule.items():
            if key != "cron":
                copy[key] = value
        copies.append(copy)
    return copies


def add_tenant(config: TenantConfig, path: Path = DEFAULT_PREFECT_YAML) -> int:
    """Append the tenant (an anchored parameter block) and its seven deployments, keeping comments;
    its scheduled flows start at its own second of the cadence (mappings.schedules), which is
    returned."""
    offset = assign_offset(config.slug, schedule_offsets(path).values())
    document = read(path)
    definitions = document.setdefault("definitions", CommentedMap())
    tenants_map = definitions.setdefault("tenants", CommentedMap())
    if config.slug in tenants_map:
        raise DeploymentFileError(f"tenant {config.slug!r} is already in {path.name}")
    params = quoted_where_needed(config.model_dump(mode="json"))
    params.yaml_set_anchor(f"tenant_{config.slug.replace('-', '_')}", always_dump=True)
    tenants_map[quoted_where_needed(config.slug)] = params

    schedules = definitions.get("schedules") or {}
    work_pool = definitions.get("work_pool")
    concurrency = definitions.get("concurrency")
    deploys = document.setdefault("deployments", CommentedSeq())
    for index, (key, (entrypoint, schedule, description)) in enumerate(FLOWS.items()):
        entry = CommentedMap()
        entry["name"] = quoted_where_needed(f"{config.slug}-{key}")
        entry["description"] = quoted_where_needed(f"{config.slug}: {description}")
        entry["entrypoint"] = entrypoint
        entry["parameters"] = CommentedMap(tenant=params)
        if schedule:
            if schedule not in schedules:
                raise DeploymentFileError(
                    f"{path.name}: definitions.schedules.{schedule} is missing"
                )
            entry["schedules"] = _staggered(schedules[schedule], flow_offset(key, offset))
        if concurrency is not None:
            entry["concurrency_limit"] = concurrency
        if work_pool is not None:
            entry["work_pool"] = work_pool
        entry["tags"] = quoted_where_needed([f"tenant:{config.slug}", key])
        entry["tags"].fa.set_flow_style()
        deploys.append(entry)
        if index == 0:
            deploys.yaml_set_comment_before_after_key(
                len(deploys) - 1, before=f"--- tenant {config.slug} ---", indent=2
            )
    with path.open("w", encoding="utf-8") as handle:
        _yaml().dump(document, handle)
    return offset


def update_tenant(
    config: TenantConfig, path: Path = DEFAULT_PREFECT_YAML
) -> dict[str, tuple[Any, Any]]:
    """Write the tenant's new settings into its anchored block, in place, so every deployment that
    references it follows; returns {field: (old, new)} of what changed."""
    document = read(path)
    params = ((document.get("definitions") or {}).get("tenants") or {}).get(config.slug)
    if params is None:
        tenant(config.slug, path)  # raises, listing the known tenants
    changed = {}
    for key, value in config.model_dump(mode="json").items():
        if params.get(key) != value:
            changed[key] = (params.get(key), value)
            params[key] = quoted_where_needed(value)  # read back by prefect deploy as written
    if changed:
        with path.open("w", encoding="utf-8") as handle:
            _yaml().dump(document, handle)
    return changed


def remove_tenant(slug: str, path: Path = DEFAULT_PREFECT_YAML) -> list[str]:
    """Take the tenant's deployments and its anchored block out of the file; returns the names."""
    tenant(slug, path)  # raises, listing the known tenants
    document = read(path)
    deploys = document.get("deployments") or CommentedSeq()
    mine = [
        i
        for i, entry in enumerate(deploys)
        if (entry.get("tags") or []) and f"tenant:{slug}" in entry["tags"]
    ]
    names = [deploys[i]["name"] for i in mine]
    for index in reversed(mine):
        del deploys[index]
    _drop_comment_line(document, f"# --- tenant {slug} ---")
    tenants = document["definitions"]["tenants"]
    del tenants[slug]
    # An emptied collection keeps the comments of what it held, which ruamel then writes where no
    # YAML reader accepts them ("{}" after a comment line): start both afresh when empty.
    if not tenants:
        document["definitions"]["tenants"] = CommentedMap()
        document["definitions"].ca.items.pop("tenants", None)
    if not deploys:
        document["deployments"] = CommentedSeq()
        document.ca.items.pop("deployments", None)
    with path.open("w", encoding="utf-8") as handle:
        _yaml().dump(document, handle)
    return names


def _drop_comment_line(node: Any, line: str) -> None:
    """Remove one generated comment line (the `--- tenant X ---` marker that add_tenant wrote)
    wherever ruamel attached it; hand-written comments are left as they are."""
    if isinstance(node, (CommentedMap, CommentedSeq)):
        for token in _comment_tokens(node.ca.comment) + [
            t for entry in node.ca.items.values() for t in _comment_tokens(entry)
        ]:
            lines = token.value.split("\n")
            kept = [text for text in lines if text.strip() != line]
            if (
                kept and lines[0].strip() == line
            ):  # the first line carries no indentation of its own
                kept[0] = kept[0].lstrip()
            token.value = "\n".join(kept)
        for child in node.values() if isinstance(node, CommentedMap) else node:
            _drop_comment_line(child, line)


def _comment_tokens(entry: Any) -> list[Any]:
    if entry is None:
        return []
    if isinstance(entry, list):
        return [t for part in entry for t in _comment_tokens(part)]
    return [entry] if hasattr(entry, "value") and isinstance(entry.value, str) else []


def to_runner_deployment(spec: DeploymentSpec, active: bool | None = None):
    """The same deployment, for `prefect.serve` (hgsync serve); `active` overrides the file's
    schedule state (the server's, once activation or `tenant pause` decided it)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    limit = spec.concurrency_limit
    return spec.load_flow().to_deployment(
        name=spec.name,
        parameters=spec.parameters,
        schedules=[_runner_schedule(s, active) for s in spec.schedules],
        concurrency_limit=ConcurrencyLimitConfig(**limit) if limit else None,
        tags=spec.tags,
        description=spec.description,
    )


def _runner_schedule(schedule: dict[str, Any], active: bool | None):
    """One schedule of prefect.yaml as `prefect.schedules.Cron` or `Interval` (as prefect deploy
    reads it)."""
    from prefect.schedules import Cron, Interval

    options = {
        "timezone": schedule.get("timezone", "UTC"),
        "active": schedule.get("active", True) if active is None else active,
    }
    if "interval" in schedule:
        anchor = schedule.get("anchor_date")
        if anchor is not None and not isinstance(anchor, datetime):
            anchor = datetime.fromisoformat(str(anchor))
        return Interval(int(schedule["interval"]), anchor_date=anchor, **options)
    return Cron(schedule["cron"], **options)

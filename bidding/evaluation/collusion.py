"""COLLUSION-40 detectors, pure: facts about the opened bids in, flags with their evidence out.

Regs 40 deems collusion where documents were made by the same unit or person, the same project
manager is named, prices differ in a regular pattern or are abnormally identical, or deposits came
from the same account. Signs that every bid shares (the office suite everybody uses, a browser
build) say nothing: software and device strings count only when at most half of the bids share them.
"""

import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from xml.etree import ElementTree

CLOSE_PRICE_RATIO = Decimal("0.0005")  # prices within 0.05% of each other
PERSON_FIELDS = ("author", "last_modified_by", "company")
SOFTWARE_FIELDS = ("creator", "producer", "application")
MANAGER_KEYS = ("项目经理", "project_manager")
MAX_PROPS = 1 << 16


@dataclass(frozen=True)
class PartFacts:
    name: str
    sha256: str
    metadata: dict  # field -> value, from the file itself


@dataclass(frozen=True)
class BidFacts:
    registration_id: int
    code: str
    price_fen: int | None
    manager: str
    client_ip: str
    user_agent: str
    parts: tuple[PartFacts, ...] = ()


@dataclass
class Flag:
    kind: str
    key: str
    codes: list[str]
    registration_ids: list[int]
    evidence: dict = field(default_factory=dict)


_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
}


def file_metadata(fileobj) -> dict:
    """Author, creating software and the like from a PDF's info dictionary or an OOXML package's properties."""
    head = fileobj.read(8)
    fileobj.seek(0)
    try:
        if head.startswith(b"%PDF"):
            return _pdf_metadata(fileobj)
        if head.startswith(b"PK"):
            return _ooxml_metadata(fileobj)
    except Exception:  # a damaged file has no metadata to compare; its hash still counts
        return {}
    return {}


def _pdf_metadata(fileobj) -> dict:
    from pypdf import PdfReader

    info = PdfReader(fileobj).metadata or {}
    found = {"author": info.get("/Author"), "creator": info.get("/Creator"), "producer": info.get("/Producer")}
    return {k: str(v).strip() for k, v in found.items() if v and str(v).strip()}


def _ooxml_metadata(fileobj) -> dict:
    found = {}
    with zipfile.ZipFile(fileobj) as package:
        names = set(package.namelist())
        if "docProps/core.xml" in names:
            core = _parse(_member(package, "docProps/core.xml"))
            found["author"] = core.findtext("dc:creator", namespaces=_NS)
            found["last_modified_by"] = core.findtext("cp:lastModifiedBy", namespaces=_NS)
        if "docProps/app.xml" in names:
            app = _parse(_member(package, "docProps/app.xml"))
            found["application"] = " ".join(
                filter(None, [app.findtext("ep:Application", namespaces=_NS), app.findtext("ep:AppVersion", namespaces=_NS)])
            )
            found["company"] = app.findtext("ep:Company", namespaces=_NS)
    return {k: v.strip() for k, v in found.items() if v and v.strip()}


def _member(package, name: str) -> bytes:
    with package.open(name) as member:  # read a capped amount: a compressed bomb stays unexpanded
        return member.read(MAX_PROPS)


def _parse(data: bytes):
    # A bidder's file is untrusted: OOXML properties never carry a DTD, so one (entity tricks) is refused.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DTD in document properties")
    return ElementTree.fromstring(data)  # noqa: S314 (no DTD, size-capped)


def _groups(bids, values) -> dict[str, list[BidFacts]]:
    """value -> the bids (of different registrations) that share it."""
    groups: dict[str, dict[int, BidFacts]] = {}
    for bid in bids:
        for value in values(bid):
            if value:
                groups.setdefault(value, {})[bid.registration_id] = bid
    return {value: sorted(found.values(), key=lambda b: b.code) for value, found in groups.items() if len(found) > 1}


def _flag(kind, key, bids, evidence) -> Flag:
    return Flag(kind, key, [b.code for b in bids], [b.registration_id for b in bids], evidence)


def detect(bids: list[BidFacts], *, same_payer: list[tuple[tuple[str, ...], tuple[int, ...]]] = ()) -> list[Flag]:
    flags: list[Flag] = []
    half = len(bids) / 2
    for sha, group in _groups(bids, lambda b: {p.sha256 for p in b.parts}).items():
        parts = {b.code: [p.name for p in b.parts if p.sha256 == sha] for b in group}
        flags.append(_flag("same_file", sha, group, {"sha256": sha, "parts": parts}))
    for name in PERSON_FIELDS + SOFTWARE_FIELDS:
        for value, group in _groups(bids, lambda b, n=name: {p.metadata.get(n, "").casefold() for p in b.parts}).items():
            if name in SOFTWARE_FIELDS and len(group) > half:
                continue
            parts = {b.code: [p.name for p in b.parts if p.metadata.get(name, "").casefold() == value] for b in group}
            shown = next(p.metadata[name] for b in group for p in b.parts if p.metadata.get(name, "").casefold() == value)
            flags.append(_flag("same_metadata", f"{name}:{value}"[:200], group, {"field": name, "value": shown, "parts": parts}))
    for ip, group in _groups(bids, lambda b: {b.client_ip}).items():
        flags.append(_flag("same_ip", ip, group, {"client_ip": ip}))
    for agent, group in _groups(bids, lambda b: {b.user_agent}).items():
        if len(group) <= half:
            flags.append(_flag("same_device", agent[:200], group, {"user_agent": agent}))
    for manager, group in _groups(bids, lambda b: {b.manager.strip()}).items():
        flags.append(_flag("same_manager", manager, group, {"project_manager": manager}))
    by_id = {b.registration_id: b for b in bids}
    for codes, registration_ids in same_payer:
        group = [by_id[r] for r in registration_ids if r in by_id]
        if len(group) > 1:
            flags.append(_flag("same_payer", ",".join(codes), group, {"rule": "DEP-SAME-PAYER", "bidder_codes": list(codes)}))
    flags.extend(_price_flags([b for b in bids if b.price_fen]))
    return flags


def _price_flags(bids: list[BidFacts]) -> list[Flag]:
    flags = []
    ordered = sorted(bids, key=lambda b: b.price_fen)
    for a, b in pairwise(ordered):
        if (b.price_fen - a.price_fen) <= CLOSE_PRICE_RATIO * a.price_fen:
            flags.append(
                _flag(
                    "price_close",
                    f"{a.code},{b.code}",
                    [a, b],
                    {"prices_fen": [a.price_fen, b.price_fen], "ratio": str(CLOSE_PRICE_RATIO)},
                )
            )
    prices = [b.price_fen for b in ordered]
    for pattern, same in (
        ("arithmetic", lambda x, y, z: y - x == z - y and y != x),
        ("geometric", lambda x, y, z: y * y == x * z and y != x),
    ):
        for first, last in _runs(prices, same):
            run = ordered[first : last + 1]
            flags.append(_flag("price_pattern", f"{pattern}:" + ",".join(r.code for r in run), run, _pattern(pattern, run)))
    return flags


def _runs(prices: list[int], same) -> list[tuple[int, int]]:
    """Maximal runs of three or more consecutive sorted prices in the pattern, as (first, last) indexes."""
    runs, i = [], 0
    while i + 2 < len(prices):
        if not same(*prices[i : i + 3]):
            i += 1
            continue
        j = i + 2
        while j + 1 < len(prices) and same(*prices[j - 1 : j + 2]):
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _pattern(pattern: str, run: list[BidFacts]) -> dict:
    prices = [r.price_fen for r in run]
    step = prices[1] - prices[0] if pattern == "arithmetic" else str(Decimal(prices[1]) / Decimal(prices[0]))
    return {"pattern": pattern, "prices_fen": prices, "step": step}

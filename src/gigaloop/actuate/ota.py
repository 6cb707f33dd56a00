"""On-vehicle verification of an over-the-air model update (Uptane-style checks).

A manifest is ``{"signed": {...}, "signatures": [{"keyid": ..., "sig": ...}]}``; the
signature (ed25519) covers the canonical JSON of ``signed``: ``model_name``,
``model_version``, ``version_number`` (monotonic, for anti-rollback), ``sha256`` and
``length`` of the artefact, ``hardware`` (revisions it may run on), ``expires``,
``stage`` and ``fraction`` (what the vehicles are told to do: shadow, canary, staged,
full, or an authorised ``rollback`` that withdraws the version) and ``sequence`` (the
signer's counter: a manifest older than the last one accepted is a replay).

Keys: ``trusted_keys`` sign updates (online); ``root_keys`` (offline) sign a key
rotation (:meth:`Vehicle.rotate`), which is how a compromised update key is revoked.
No private key lives here (``gigaloop.fleet.registry`` signs).

>>> check = Vehicle(trusted_keys={}, hardware="HW4", installed_version=0)
>>> check.refusal({"signed": {}, "signatures": []}, b"", now=0.0)
'unsigned'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNED_FIELDS = (
    "model_name",
    "model_version",
    "version_number",
    "sha256",
    "length",
    "hardware",
    "expires",
    "stage",
    "fraction",
    "sequence",
)
ROOT_FIELDS = ("type", "version", "keys", "expires")
STAGES = ("shadow", "canary", "staged", "full", "rollback")
#: The largest artefact a vehicle downloads (endless data), whatever a manifest says.
MAX_ARTEFACT_BYTES = 64 * 2**20
#: Uptane's threats and the refusal that answers each (docs/fleet.md keeps the checklist).
REASONS = (
    "unsigned",
    "malformed",
    "revoked-key",
    "bad-signature",
    "expired",
    "replay",
    "rollback",
    "wrong-hardware",
    "too-large",
    "length",
    "digest",
    "mismatch",
)


def canonical(signed: dict[str, Any]) -> bytes:
    """The bytes a signature covers: sorted-key, compact JSON."""
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def key_id(public_raw: bytes) -> str:
    """A key's id: the sha256 of its raw public bytes."""
    return hashlib.sha256(public_raw).hexdigest()


def epoch(when: datetime) -> float:
    """Seconds since 1970 of a naive-UTC (or aware) instant: a manifest's ``expires``."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


class Rejected(Exception):
    """An update the vehicle refuses; ``str()`` is the reason (one of :data:`REASONS`)."""


@dataclass
class Vehicle:
    """What a vehicle (or every vehicle of one hardware revision) trusts and runs: update
    keys by key id, root keys, its hardware revision, the version number installed (it
    never installs one not newer) and the last manifest sequence accepted."""

    trusted_keys: dict[str, bytes]
    hardware: str
    installed_version: int
    installed_model: str | None = None
    root_keys: dict[str, bytes] = field(default_factory=dict)
    root_version: int = 0
    revoked: set[str] = field(default_factory=set)
    last_sequence: int = -1

    def verify(self, manifest: dict[str, Any], artefact: bytes, *, now: float) -> None:
        """Raise :class:`Rejected` unless the manifest is signed by a trusted key, fresh,
        not a replay, newer than what runs (or an authorised rollback), meant for this
        hardware and matches the artefact."""
        signed = self._signed_by(manifest, self.trusted_keys, SIGNED_FIELDS)
        if signed["stage"] not in STAGES:
            raise Rejected("malformed")
        if float(signed["expires"]) <= now:
            raise Rejected("expired")
        if int(signed["sequence"]) <= self.last_sequence:
            raise Rejected("replay")
        if signed["stage"] not in ("shadow", "rollback") and self._older(signed):
            raise Rejected("rollback")
        if self.hardware not in signed["hardware"]:
            raise Rejected("wrong-hardware")
        if signed["stage"] == "rollback":
            return  # withdraws what runs: nothing to download
        if int(signed["length"]) > MAX_ARTEFACT_BYTES:
            raise Rejected("too-large")
        if len(artefact) != int(signed["length"]):
            raise Rejected("length")
        if hashlib.sha256(artefact).hexdigest() != signed["sha256"]:
            raise Rejected("digest")

    def refusal(self, manifest: dict[str, Any], artefact: bytes, *, now: float) -> str | None:
        """The reason this update is refused, or None if it is acceptable."""
        try:
            self.verify(manifest, artefact, now=now)
        except Rejected as why:
            return str(why)
        return None

    def install(self, manifest: dict[str, Any], artefact: bytes, *, now: float) -> str | None:
        """Verify, then record the manifest (and the new version, when it installs one);
        returns the refusal reason or None."""
        reason = self.refusal(manifest, artefact, now=now)
        if reason is None:
            signed = manifest["signed"]
            self.last_sequence = int(signed["sequence"])
            if signed["stage"] not in ("shadow", "rollback"):
                self.installed_version = int(signed["version_number"])
                self.installed_model = str(signed["model_version"])
        return reason

    def _older(self, signed: dict[str, Any]) -> bool:
        """Older than what runs: a lower number, or the same number for another version
        (the same version again is its next wave)."""
        number = int(signed["version_number"])
        return number < self.installed_version or (
            number == self.installed_version and signed["model_version"] != self.installed_model
        )

    def rotate(self, root: dict[str, Any], *, now: float) -> str | None:
        """Take new update keys from root metadata signed by a current root key, newer
        than the last and not expired; keys it drops are revoked. Returns the refusal."""
        try:
            signed = self._signed_by(root, self.root_keys, ROOT_FIELDS)
            if signed["type"] != "root":
                raise Rejected("malformed")
            if float(signed["expires"]) <= now:
                raise Rejected("expired")
            if int(signed["version"]) <= self.root_version:
                raise Rejected("replay")
        except Rejected as why:
            return str(why)
        keys = {k: bytes.fromhex(v) for k, v in signed["keys"].items()}
        self.revoked |= set(self.trusted_keys) - set(keys)
        self.trusted_keys, self.root_version = keys, int(signed["version"])
        return None

    def _signed_by(
        self, manifest: dict[str, Any], keys: dict[str, bytes], fields: tuple[str, ...]
    ) -> dict[str, Any]:
        """The signed part, once a signature by one of ``keys`` checks out."""
        signed, signatures = manifest.get("signed"), manifest.get("signatures") or []
        if not signatures or not isinstance(signed, dict):
            raise Rejected("unsigned")
        if set(signed) != set(fields):
            raise Rejected("malformed")
        if any(self._valid(s, signed, keys) for s in signatures):
            return signed
        if {s.get("keyid") for s in signatures} & self.revoked:
            raise Rejected("revoked-key")
        raise Rejected("bad-signature")

    @staticmethod
    def _valid(signature: dict[str, str], signed: dict[str, Any], keys: dict[str, bytes]) -> bool:
        public = keys.get(signature.get("keyid", ""))
        if public is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                bytes.fromhex(signature.get("sig", "")), canonical(signed)
            )
        except (InvalidSignature, ValueError):
            return False
        return True

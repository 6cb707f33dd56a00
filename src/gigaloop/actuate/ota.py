"""On-vehicle verification of an over-the-air model update (Uptane-style checks).

A manifest is ``{"signed": {...}, "signatures": [{"keyid": ..., "sig": ...}]}``; the
signature (ed25519) covers the canonical JSON of ``signed``: ``model_name``,
``model_version``, ``version_number`` (monotonic, for anti-rollback), ``sha256`` and
``length`` of the artefact, ``hardware`` (revisions it may run on) and ``expires``.
No private key lives here: the vehicle only holds public keys (``gigaloop.fleet.registry``
signs).

>>> check = Vehicle(trusted_keys={}, hardware="HW4", installed_version=0)
>>> check.refusal({"signed": {}, "signatures": []}, b"", now=0.0)
'unsigned'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNED_FIELDS = ("model_name", "model_version", "version_number", "sha256", "length",
                 "hardware", "expires")


def canonical(signed: dict[str, Any]) -> bytes:
    """The bytes a signature covers: sorted-key, compact JSON."""
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def key_id(public_raw: bytes) -> str:
    """A key's id: the sha256 of its raw public bytes."""
    return hashlib.sha256(public_raw).hexdigest()


class Rejected(Exception):
    """An update the vehicle refuses; ``str()`` is the reason."""


@dataclass
class Vehicle:
    """What a vehicle trusts and runs: public keys by key id, its hardware revision and
    the version number installed (it never installs one not newer)."""

    trusted_keys: dict[str, bytes]
    hardware: str
    installed_version: int
    installed_model: str | None = None

    def verify(self, manifest: dict[str, Any], artefact: bytes, *, now: float) -> None:
        """Raise :class:`Rejected` unless the manifest is signed by a trusted key, fresh,
        newer than what runs, meant for this hardware and matches the artefact."""
        signed, signatures = manifest.get("signed"), manifest.get("signatures") or []
        if not signatures or not isinstance(signed, dict):
            raise Rejected("unsigned")
        if set(signed) != set(SIGNED_FIELDS):
            raise Rejected("malformed")
        if not any(self._valid(s, signed) for s in signatures):
            raise Rejected("bad-signature")
        if float(signed["expires"]) <= now:
            raise Rejected("expired")
        if int(signed["version_number"]) <= self.installed_version:
            raise Rejected("rollback")
        if self.hardware not in signed["hardware"]:
            raise Rejected("wrong-hardware")
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
        """Verify, then record the new version; returns the refusal reason or None."""
        reason = self.refusal(manifest, artefact, now=now)
        if reason is None:
            self.installed_version = int(manifest["signed"]["version_number"])
            self.installed_model = str(manifest["signed"]["model_version"])
        return reason

    def _valid(self, signature: dict[str, str], signed: dict[str, Any]) -> bool:
        public = self.trusted_keys.get(signature.get("keyid", ""))
        if public is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(
                bytes.fromhex(signature.get("sig", "")), canonical(signed))
        except (InvalidSignature, ValueError):
            return False
        return True

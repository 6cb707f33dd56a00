"""Model registry: versions with lineage, aliases, signed rollout manifests, history.

A twin run signs with a key generated for it (:meth:`Signer.generate`); ``gigaloop decide``
on a real plant's store signs with one kept in a file (:meth:`Signer.from_file`), so the
vehicles, provisioned once with its public key, accept what every later run sends. Keys
are never written to the repository; vehicles get only the public key (``Signer.public``),
and verify with :class:`gigaloop.actuate.ota.Vehicle`.

>>> reg = Registry(Signer.generate())
>>> v = reg.register("planner", b"weights", lineage={"data_window": ["2026-01-01", "2026-03-31"],
...     "campaign": "c1", "code_version": "abc123", "metrics": {"rain": {"auc": 0.9}}})
>>> reg.alias("candidate", v)
>>> m = reg.manifest(v, hardware=["HW4"], expires=10.0, stage="canary", fraction=0.01)
>>> from gigaloop.actuate.ota import Vehicle
>>> Vehicle(reg.signer.trusted(), "HW4", 0).refusal(m, b"weights", now=0.0) is None
True
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from gigaloop.actuate.ota import STAGES, canonical, key_id
from gigaloop.errors import ConfigError

ALIASES = ("candidate", "production")
LINEAGE_FIELDS = ("data_window", "campaign", "code_version", "metrics")


@dataclass
class Signer:
    """An ed25519 signing key (in memory only) and the sequence number of the last
    manifest it signed (vehicles refuse one not newer than the last they took).

    Pickled without its key: a loaded signer signs with a fresh one, which vehicles
    refuse until a root key rotation (:func:`root_metadata`) trusts it."""

    private: Ed25519PrivateKey
    sequence: int = 0

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """The key in ``path`` (PKCS#8 PEM), created there (owner-only) if there is none,
        with its public key beside it (``path`` + ``.pub``, hex: what vehicles are
        provisioned with).

        >>> import tempfile
        >>> key = Path(tempfile.mkdtemp()) / "ota-signing-key.pem"
        >>> Signer.from_file(key).public == Signer.from_file(key).public
        True
        >>> oct(key.stat().st_mode & 0o777), len(bytes.fromhex(
        ...     key.with_name(key.name + ".pub").read_text()))
        ('0o600', 32)
        """
        if not path.exists():
            private = Ed25519PrivateKey.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                NoEncryption()))
            signer = cls(private)
            path.with_name(path.name + ".pub").write_text(signer.public.hex() + "\n")
            return signer
        try:
            loaded = load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is not an unencrypted PEM private key ({exc}); point "
                              "--signing-key at the fleet's ed25519 update key",
                              path=str(path)) from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ConfigError(f"{path} holds a {type(loaded).__name__}, not an ed25519 key: "
                              "vehicles verify ed25519 signatures only", path=str(path))
        return cls(loaded)

    def __getstate__(self) -> dict[str, Any]:
        return {"sequence": self.sequence}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.private, self.sequence = Ed25519PrivateKey.generate(), state["sequence"]

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def trusted(self) -> dict[str, bytes]:
        """The ``{key id: public key}`` a vehicle is provisioned with."""
        return {key_id(self.public): self.public}

    def sign(self, signed: dict[str, Any]) -> dict[str, Any]:
        """A manifest: the fields and one signature over their canonical JSON."""
        sig = self.private.sign(canonical(signed)).hex()
        return {"signed": dict(signed), "signatures": [{"keyid": key_id(self.public), "sig": sig}]}

    def release(self, *, model_name: str, model_version: str, version_number: int,
                sha256: str, length: int, hardware: list[str], expires: float, stage: str,
                fraction: float) -> dict[str, Any]:
        """A signed rollout manifest (:mod:`gigaloop.actuate.ota`), next in sequence."""
        if stage not in STAGES or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"stage must be one of {STAGES} and fraction in [0, 1]; got "
                             f"{stage!r}, {fraction}")
        self.sequence += 1
        return self.sign({
            "model_name": model_name, "model_version": model_version,
            "version_number": int(version_number), "sha256": sha256, "length": int(length),
            "hardware": sorted(hardware), "expires": float(expires), "stage": stage,
            "fraction": float(fraction), "sequence": self.sequence})


def root_metadata(root: Signer, update_keys: list[Signer], *, version: int,
                  expires: float) -> dict[str, Any]:
    """Root metadata signed by the (offline) ``root`` key: the update keys vehicles trust
    from now on; a key left out is revoked (:meth:`gigaloop.actuate.ota.Vehicle.rotate`)."""
    return root.sign({"type": "root", "version": version, "expires": float(expires),
                      "keys": {key_id(k.public): k.public.hex() for k in update_keys}})


@dataclass
class Registry:
    """Versions (numbered 1, 2, … per registry), their lineage and artefact digests,
    aliases and the deployment history (which version ran on which vehicles when)."""

    signer: Signer
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def register(self, model_name: str, artefact: bytes, *, lineage: dict[str, Any],
                 parent: str | None = None) -> str:
        """Record a version; lineage needs data window, campaign, code version and
        held-out metrics by condition. Returns the version id."""
        missing = [k for k in LINEAGE_FIELDS if k not in lineage]
        if missing:
            raise ValueError(f"lineage lacks {missing}")
        if parent is not None and parent not in self.versions:
            raise KeyError(parent)
        number = len(self.versions) + 1
        version = f"{model_name}-{number}"
        self.versions[version] = {
            "model_name": model_name, "version_number": number, "parent": parent,
            "sha256": hashlib.sha256(artefact).hexdigest(), "length": len(artefact),
            "lineage": dict(lineage)}
        return version

    def alias(self, name: str, version: str) -> None:
        """Point ``candidate`` or ``production`` at a version."""
        if name not in ALIASES:
            raise ValueError(f"alias must be one of {ALIASES}")
        if version not in self.versions:
            raise KeyError(version)
        self.aliases[name] = version

    def resolve(self, name_or_version: str) -> str:
        return self.aliases.get(name_or_version, name_or_version)

    def lineage(self, version: str) -> list[str]:
        """The version and its ancestors, newest first."""
        chain: list[str] = []
        current: str | None = self.resolve(version)
        while current is not None:
            chain.append(current)
            current = self.versions[current]["parent"]
        return chain

    def manifest(self, version: str, *, hardware: list[str], expires: float,
                 stage: str = "full", fraction: float = 1.0) -> dict[str, Any]:
        """The signed rollout manifest for a version (or alias)."""
        info = self.versions[self.resolve(version)]
        return self.signer.release(
            model_name=info["model_name"], model_version=self.resolve(version),
            version_number=info["version_number"], sha256=info["sha256"],
            length=info["length"], hardware=hardware, expires=expires, stage=stage,
            fraction=fraction)

    def record_deployment(self, version: str, vins: list[str], *, at: float) -> None:
        """Note that a version started running on these vehicles at ``at``."""
        self.history.append({"model_version": self.resolve(version), "vins": sorted(vins),
                             "at": at})

    def running_on(self, vin: str, *, at: float) -> str | None:
        """Which version ran on a vehicle at a time (the last deployment before it)."""
        ran = [h for h in self.history if vin in h["vins"] and h["at"] <= at]
        return max(ran, key=lambda h: h["at"])["model_version"] if ran else None

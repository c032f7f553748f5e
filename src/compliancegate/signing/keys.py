"""Ed25519 signing keys: generate, load (file or environment), sign and verify exact bytes.

A private key is PKCS#8 PEM (unencrypted, or encrypted with a passphrase given in
``COMPLIANCEGATE_SIGNING_KEY_PASSPHRASE``); a public key is PEM SubjectPublicKeyInfo or an
OpenSSH ``ssh-ed25519 AAAA...`` line. Keys never come from the repository being gated: a key
file inside its work tree is refused, as is a private key file other users may read (as
OpenSSH refuses one). ``cryptography`` is imported only when a key is used.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compliancegate.errors import CompliancegateError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

KEY_VARIABLE = "COMPLIANCEGATE_SIGNING_KEY"
"""The private key's PEM text (a CI secret)."""
KEY_FILE_VARIABLE = "COMPLIANCEGATE_SIGNING_KEY_FILE"
"""The path of the private key file."""
PASSPHRASE_VARIABLE = "COMPLIANCEGATE_SIGNING_KEY_PASSPHRASE"
"""The passphrase of an encrypted private key."""
PUBLIC_SUFFIX = ".pub"
MAX_KEY_BYTES = 64 * 1024


class SigningKeyError(CompliancegateError):
    """A key cannot be used: unreadable, malformed, of the wrong type, or in the wrong place."""


@dataclass(frozen=True)
class PublicKey:
    """A loaded Ed25519 public key."""

    raw: bytes
    """The 32 raw bytes of the key."""
    source: str = field(compare=False)
    """Where it came from (a file, a variable), for messages."""

    @property
    def key_id(self) -> str:
        """The first 16 hex digits of the SHA-256 of the raw key: names it in signatures."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature over exactly ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A loaded Ed25519 private key and its public half."""

    private: Ed25519PrivateKey = field(repr=False, compare=False)
    public: PublicKey
    source: str = field(compare=False)

    @property
    def key_id(self) -> str:
        """The public key's id."""
        return self.public.key_id

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature (64 bytes) over exactly ``data``."""
        return self.private.sign(data)


def _public(key: Ed25519PublicKey, source: str) -> PublicKey:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return PublicKey(key.public_bytes(Encoding.Raw, PublicFormat.Raw), source)


def generate(path: Path) -> tuple[SigningKey, Path]:
    """Write a new private key to ``path`` (mode 0600, never over an existing file) and its
    public key (PEM SubjectPublicKeyInfo) to ``path`` + ``.pub``; the key and that path."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public_path = path.with_name(path.name + PUBLIC_SUFFIX)
    for target in (path, public_path):
        if os.path.lexists(target):
            raise SigningKeyError(
                "already exists; a key is never overwritten",
                file=str(target),
                hint="choose another path, or move the old key away first",
            )
    _create(path, private_pem, 0o600)
    try:
        _create(public_path, public_pem, 0o644)
    except SigningKeyError:
        os.unlink(path)
        raise
    return SigningKey(key, _public(key.public_key(), str(public_path)), str(path)), public_path


def _create(path: Path, data: bytes, mode: int) -> None:
    try:
        # O_EXCL: never overwrite, never follow a symlink planted at the path.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise SigningKeyError(
            "already exists; a key is never overwritten",
            file=str(path),
            hint="choose another path, or move the old key away first",
        ) from None
    except OSError as exc:
        raise SigningKeyError(
            f"cannot create the key file: {exc.strerror or exc}", file=str(path)
        ) from None
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits; never added any
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _inside(path: Path, tree: Path | None) -> bool:
    if tree is None:
        return False
    roots = {tree.absolute(), tree.resolve()}
    candidates = {Path(os.path.abspath(path)), path.resolve()}
    return any(c == r or r in c.parents for c in candidates for r in roots)


def _read_key_file(path: Path, tree: Path | None, private: bool) -> bytes:
    what = "private" if private else "public"
    if _inside(path, tree):
        raise SigningKeyError(
            f"the {what} key file is inside the repository being gated ({tree}), which a pull "
            "request controls",
            file=str(path),
            hint="keep keys outside the checkout: a CI secret in "
            f"{KEY_VARIABLE}, or a file under the runner's own folders",
        )
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SigningKeyError(f"the {what} key is not a regular file", file=str(path))
        if private and info.st_mode & 0o077:
            raise SigningKeyError(
                f"the private key file may be read by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o})",
                file=str(path),
                hint=f"chmod 600 {path}",
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except SigningKeyError:
        raise
    except OSError as exc:
        raise SigningKeyError(
            f"cannot read the {what} key: {exc.strerror or exc}", file=str(path)
        ) from None
    if len(data) > MAX_KEY_BYTES:
        raise SigningKeyError(
            f"the {what} key file is larger than {MAX_KEY_BYTES} bytes", file=str(path)
        )
    return data


def private_from_pem(data: bytes, source: str, passphrase: bytes | None = None) -> SigningKey:
    """Load an Ed25519 private key from PKCS#8 (or OpenSSH) PEM bytes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_ssh_private_key,
    )

    key: object
    try:
        if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            key = load_ssh_private_key(data, passphrase)
        else:
            key = load_pem_private_key(data, passphrase)
    except TypeError as exc:
        if passphrase is None:
            raise SigningKeyError(
                "the private key is encrypted and no passphrase was given",
                file=source,
                hint=f"set {PASSPHRASE_VARIABLE}",
            ) from None
        raise SigningKeyError(f"the private key cannot be read: {exc}", file=source) from None
    except ValueError as exc:
        wrong = passphrase is not None and "password" in str(exc).lower()
        raise SigningKeyError(
            "wrong passphrase for the private key"
            if wrong
            else "not a PEM private key (PKCS#8 '-----BEGIN PRIVATE KEY-----')",
            file=source,
            hint=f"check {PASSPHRASE_VARIABLE}"
            if wrong
            else "create one with: compliancegate keygen PATH",
        ) from None
    except Exception as exc:  # cryptography raises several kinds on garbage
        raise SigningKeyError(f"the private key cannot be read: {exc}", file=source) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"the private key is {type(key).__name__.removeprefix('_')}, not Ed25519",
            file=source,
            hint="create an Ed25519 key with: compliancegate keygen PATH",
        )
    return SigningKey(key, _public(key.public_key(), source), source)


def public_from_bytes(data: bytes, source: str) -> PublicKey:
    """Load an Ed25519 public key: PEM SubjectPublicKeyInfo or an ``ssh-ed25519`` line."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        load_pem_public_key,
        load_ssh_public_key,
    )

    text = data.strip()
    try:
        ssh = text.startswith(b"ssh-")
        key = load_ssh_public_key(text) if ssh else load_pem_public_key(text)
    except Exception:  # ValueError, UnsupportedAlgorithm, ...
        raise SigningKeyError(
            "not a public key (PEM '-----BEGIN PUBLIC KEY-----' or 'ssh-ed25519 AAAA...')",
            file=source,
            hint="give the .pub file compliancegate keygen wrote",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(
            f"the public key is {type(key).__name__.removeprefix('_')}, not Ed25519",
            file=source,
        )
    return _public(key, source)


def load_private(
    path: Path, tree: Path | None = None, passphrase: bytes | None = None
) -> SigningKey:
    """The private key in ``path``; refused inside ``tree`` or readable by others."""
    return private_from_pem(_read_key_file(path, tree, private=True), str(path), passphrase)


def load_public(path: Path, tree: Path | None = None) -> PublicKey:
    """The public key in ``path``. ``tree``: refuse a key file inside the gated tree."""
    return public_from_bytes(_read_key_file(path, tree, private=False), str(path))


def key_from_environment(environ: Mapping[str, str], tree: Path | None) -> SigningKey | None:
    """The signing key the environment configures, or None.

    ``COMPLIANCEGATE_SIGNING_KEY`` holds the PEM itself; ``COMPLIANCEGATE_SIGNING_KEY_FILE``
    a path (outside ``tree``). Both set is ambiguous and refused; empty values are unset.
    """
    text = environ.get(KEY_VARIABLE, "")
    path = environ.get(KEY_FILE_VARIABLE, "")
    phrase = environ.get(PASSPHRASE_VARIABLE, "")
    passphrase = phrase.encode() if phrase else None
    if text and path:
        raise SigningKeyError(
            f"both {KEY_VARIABLE} and {KEY_FILE_VARIABLE} are set",
            hint="set only one of them",
        )
    if text:
        return private_from_pem(text.encode(), f"${KEY_VARIABLE}", passphrase)
    if path:
        return load_private(Path(path).expanduser(), tree, passphrase)
    return None

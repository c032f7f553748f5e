"""``compliancegate keygen`` and loading keys: files written 0600 and never overwritten, keys
from a file or the environment, refused inside the gated tree, readable by others, of the
wrong type, garbage or encrypted without a passphrase (exit 2 naming the file and the fix)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from cli_runs import run_in_process, run_subprocess
from compliancegate.signing.keys import (
    SigningKeyError,
    generate,
    key_from_environment,
    load_private,
    load_public,
    public_from_bytes,
)


def test_keygen_writes_a_0600_private_key_and_its_public_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    path.parent.mkdir()
    outcome = run_in_process(["keygen", str(path)])
    assert outcome.code == 0, outcome.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    public = path.with_name("ledger.key.pub")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    key = load_private(path)
    assert load_public(public) == key.public
    signature = key.sign(b"exact bytes")
    assert key.public.verify(b"exact bytes", signature)
    assert not key.public.verify(b"exact bytes ", signature)
    assert key.key_id in outcome.stdout


@pytest.mark.parametrize("existing", ["ledger.key", "ledger.key.pub"])
def test_keygen_never_overwrites(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"precious")
    outcome = run_in_process(["keygen", str(tmp_path / "ledger.key")])
    assert outcome.code == 2
    assert "never overwritten" in outcome.output and existing in outcome.output
    assert (tmp_path / existing).read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_keygen_refuses_a_dangling_symlink_at_the_path(tmp_path: Path) -> None:
    (tmp_path / "ledger.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SigningKeyError, match="never overwritten"):
        generate(tmp_path / "ledger.key")
    assert not (tmp_path / "elsewhere").exists()


def test_keygen_refuses_a_git_work_tree(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    outcome = run_subprocess(["keygen", "ledger.key"], tmp_path)
    assert outcome.code == 2 and "work tree" in outcome.output
    assert not (tmp_path / "ledger.key").exists()


def test_keygen_in_a_subprocess(tmp_path: Path) -> None:
    outcome = run_subprocess(["keygen", str(tmp_path / "k")], tmp_path)
    assert outcome.code == 0, outcome.output
    assert "Traceback" not in outcome.output


def test_the_public_key_may_be_an_openssh_line(tmp_path: Path) -> None:
    key, _ = generate(tmp_path / "k")
    line = key.private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    assert public_from_bytes(line + b" auditor@example\n", "x") == key.public


def _pem(private: object, encryption: object = None) -> bytes:
    return private.private_bytes(  # type: ignore[attr-defined, no-any-return]
        Encoding.PEM, PrivateFormat.PKCS8, encryption or NoEncryption()
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a PEM private key"),
        (b"garbage", "not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "private key"),
    ],
)
def test_garbage_private_keys_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match=message) as caught:
        load_private(path)
    assert caught.value.file == str(path)


def test_wrong_key_types_are_refused(tmp_path: Path) -> None:
    for name, private in (
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ec", ec.generate_private_key(ec.SECP256R1())),
    ):
        path = tmp_path / name
        path.write_bytes(_pem(private))
        path.chmod(0o600)
        with pytest.raises(SigningKeyError, match="not Ed25519"):
            load_private(path)
        pub = tmp_path / f"{name}.pub"
        pub.write_bytes(
            private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        with pytest.raises(SigningKeyError, match="not Ed25519"):
            load_public(pub)


def test_an_encrypted_key_needs_its_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(_pem(Ed25519PrivateKey.generate(), BestAvailableEncryption(b"secret")))
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="no passphrase"):
        load_private(path)
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        load_private(path, passphrase=b"wrong")
    assert load_private(path, passphrase=b"secret").key_id
    env = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(path)}
    with pytest.raises(SigningKeyError, match="COMPLIANCEGATE_SIGNING_KEY_PASSPHRASE"):
        key_from_environment(env, None)
    env["COMPLIANCEGATE_SIGNING_KEY_PASSPHRASE"] = "secret"
    assert key_from_environment(env, None) is not None


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601])
def test_a_private_key_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    key, _ = generate(tmp_path / "k")
    os.chmod(tmp_path / "k", mode)
    with pytest.raises(SigningKeyError, match="other users") as caught:
        load_private(tmp_path / "k")
    assert "chmod 600" in str(caught.value)
    os.chmod(tmp_path / "k", 0o400)
    assert load_private(tmp_path / "k") == key


def test_a_key_inside_the_gated_tree_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    tree.mkdir()
    key, _ = generate(tmp_path / "k")
    (tree / "k").write_bytes((tmp_path / "k").read_bytes())
    (tree / "k").chmod(0o600)
    (tree / "link").symlink_to(tmp_path / "k")  # a symlink in the tree counts as the tree
    outside = tmp_path / "outside-link"
    outside.symlink_to(tree / "k")  # a path outside that resolves into the tree, too
    for path in (tree / "k", tree / "link", outside):
        with pytest.raises(SigningKeyError, match="inside the repository being gated"):
            load_private(path, tree)
        with pytest.raises(SigningKeyError, match="inside the repository being gated"):
            key_from_environment({"COMPLIANCEGATE_SIGNING_KEY_FILE": str(path)}, tree)
    assert load_private(tmp_path / "k", tree) == key


def test_keys_come_from_a_variable_or_a_file(tmp_path: Path) -> None:
    key, _ = generate(tmp_path / "k")
    pem = (tmp_path / "k").read_text()
    assert key_from_environment({}, None) is None
    assert key_from_environment({"COMPLIANCEGATE_SIGNING_KEY": ""}, None) is None
    assert key_from_environment({"COMPLIANCEGATE_SIGNING_KEY": pem}, None) == key
    both = {"COMPLIANCEGATE_SIGNING_KEY": pem, "COMPLIANCEGATE_SIGNING_KEY_FILE": "k"}
    with pytest.raises(SigningKeyError, match="both"):
        key_from_environment(both, None)
    with pytest.raises(SigningKeyError, match="cannot read"):
        key_from_environment({"COMPLIANCEGATE_SIGNING_KEY_FILE": str(tmp_path / "no")}, None)
    with pytest.raises(SigningKeyError, match="not a PEM"):
        key_from_environment({"COMPLIANCEGATE_SIGNING_KEY": "nonsense"}, None)

"""``compliancegate keygen``: create an Ed25519 signing key for the ledger's heads."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("keygen")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def keygen(path: Path) -> int:
    """Write a new Ed25519 private key to PATH (PKCS#8 PEM, mode 0600) and its public key
    to PATH.pub (PEM SubjectPublicKeyInfo). An existing file is never overwritten (exit 2).

    Keep the private key outside the repository being gated (a CI secret in
    COMPLIANCEGATE_SIGNING_KEY); give auditors the .pub file.
    """
    from compliancegate.ledger.placement import work_tree
    from compliancegate.signing.keys import SigningKeyError, generate

    tree = work_tree(path.absolute().parent) if path.absolute().parent.exists() else None
    if tree is not None:
        raise SigningKeyError(
            f"is inside a git work tree ({tree}): a private key there may be committed",
            file=str(path),
            hint="write it outside any checkout, e.g. ~/.config/compliancegate/ledger.key",
        )
    key, public_path = generate(path)
    click.echo(f"private key: {path} (mode 0600; keep it secret)")
    click.echo(f"public key:  {public_path} (give it to auditors: ledger verify --pubkey)")
    click.echo(f"key id:      {key.key_id}")
    return 0

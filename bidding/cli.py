"""Sunlight sealer for bidders, custodians and tests: `python -m bidding.cli --help`.

keygen          make a bidder's signing and encryption keys (private keys in a passphrase-protected file)
seal            seal a bid form and files into an envelope, for a section's opening key
inspect         show an envelope's manifest and check its signature (no decryption)
open            decrypt an envelope with the bidder's key file or a rebuilt opening key
verify-receipt  check a receipt's platform signature offline
"""

import argparse
import getpass
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bidding import envelope as E


def _passphrase(args) -> bytes:
    return (args.passphrase or getpass.getpass("passphrase: ")).encode()


def keygen(args) -> int:
    signing, encryption = E.generate_key(), E.generate_key()
    passphrase = _passphrase(args)
    Path(args.out).write_text(
        json.dumps(
            {
                "signing_private_key": E.private_key_pem(signing, passphrase).decode(),
                "encryption_private_key": E.private_key_pem(encryption, passphrase).decode(),
            },
            indent=1,
        )
    )
    print(
        json.dumps(
            {
                "signing_public_key": E.public_key_text(signing.public_key()),
                "encryption_public_key": E.public_key_text(encryption.public_key()),
            },
            indent=1,
        )
    )
    return 0


def _keys(args):
    document = json.loads(Path(args.keys).read_text())
    passphrase = _passphrase(args)
    return (
        E.load_private_key(document["signing_private_key"].encode(), passphrase),
        E.load_private_key(document["encryption_private_key"].encode(), passphrase),
    )


def seal(args) -> int:
    signing, encryption = _keys(args)
    form = json.loads(Path(args.form).read_text())
    files = {name: path for name, path in (("commercial", args.commercial), ("technical", args.technical)) if path}
    with open(args.out, "wb") as out:
        manifest = E.seal(
            section=args.section,
            bidder_code=args.bidder_code,
            opening_public_key=E.load_public_key(args.opening_key),
            bidder_public_key=encryption.public_key(),
            signing_private_key=signing,
            form=form,
            files=files,
            out=out,
        )
    print(json.dumps({"parts": [p["name"] for p in manifest["parts"]], "out": args.out}, ensure_ascii=False))
    return 0


def inspect(args) -> int:
    with open(args.envelope, "rb") as fh:
        manifest, signature, _length, _raw = E.read_header(fh)
    if args.signing_key:
        E.verify_signature(manifest, signature, E.load_public_key(args.signing_key))
        print("signature: valid", file=sys.stderr)
    print(json.dumps(manifest, ensure_ascii=False, indent=1))
    return 0


def open_(args) -> int:
    if args.keys:
        _signing, key = _keys(args)
        recipient = "bidder"
    else:
        key, recipient = E.load_private_key(Path(args.opening_private_key).read_bytes()), "opening"
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.envelope, "rb") as fh:
        manifest, _s, _l, _r = E.read_header(fh)
        for part in manifest["parts"]:
            with open(out_dir / part["name"], "wb") as out:
                meta = E.open_part(fh, private_key=key, recipient=recipient, part_name=part["name"], out=out)
            print(f"{part['name']}: {meta['filename']} ({meta['content_type']})")
    return 0


def verify_receipt(args) -> int:
    document = json.loads(Path(args.receipt).read_text())
    key = Ed25519PublicKey.from_public_bytes(E.b64url_decode(args.platform_key or document["platform_key"]))
    try:
        key.verify(E.b64url_decode(document["signature"]), E.canonical_json(document["receipt"]))
    except (InvalidSignature, ValueError, KeyError):
        print("receipt: INVALID signature", file=sys.stderr)
        return 1
    print("receipt: valid " + json.dumps(document["receipt"], ensure_ascii=False))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bidding.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen")
    p.add_argument("--out", required=True)
    p.add_argument("--passphrase")
    p.set_defaults(run=keygen)
    p = sub.add_parser("seal")
    for name in ("--keys", "--section", "--bidder-code", "--opening-key", "--form", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--commercial")
    p.add_argument("--technical")
    p.add_argument("--passphrase")
    p.set_defaults(run=seal)
    p = sub.add_parser("inspect")
    p.add_argument("envelope")
    p.add_argument("--signing-key")
    p.set_defaults(run=inspect)
    p = sub.add_parser("open")
    p.add_argument("envelope")
    p.add_argument("--keys")
    p.add_argument("--opening-private-key")
    p.add_argument("--passphrase")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(run=open_)
    p = sub.add_parser("verify-receipt")
    p.add_argument("receipt")
    p.add_argument("--platform-key", help="the platform's public key to trust (base64url); default: the one in the file")
    p.set_defaults(run=verify_receipt)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except E.EnvelopeError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Sunlight sealer for bidders, custodians and tests: `python -m bidding.cli --help`.

keygen          make a bidder's signing and encryption keys (private keys in a passphrase-protected file,
                the browser sealer's format; public keys printed as JSON for the registration)
seal            seal a bid form and files into an envelope for a section's opening key
inspect         show an envelope's manifest, size and digest; with --signing-key, every check the server makes
open            decrypt an envelope with the bidder's key file or a rebuilt opening key (PEM)
verify-receipt  check a receipt's platform signature offline (and that it names your envelope)

Passphrases: --passphrase-env NAME reads an environment variable, --passphrase takes it on the
command line (visible to other users: tests only), otherwise it is asked for.
Exit status: 0 done, 1 a receipt does not verify, 2 an envelope or key file is refused (CODE: reason on stderr).
"""

import argparse
import getpass
import hashlib
import json
import os
import sys
from pathlib import Path

from bidding import envelope as E
from bidding import receipts


def _passphrase(args, *, confirm: bool = False) -> str:
    if args.passphrase_env:
        return os.environ[args.passphrase_env]
    if args.passphrase:
        return args.passphrase
    value = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("again: ") != value:
        raise E.KeyFileError("the passphrases differ")
    return value


def _print(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=1))


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        buffer = memoryview(bytearray(E.COPY))
        while n := fh.readinto(buffer):
            digest.update(buffer[:n])
    return digest.hexdigest()


def keygen(args) -> int:
    signing, encryption = E.generate_key(), E.generate_key()
    document = E.export_key_file(
        signing_private_key=signing,
        encryption_private_key=encryption,
        passphrase=_passphrase(args, confirm=True),
        iterations=args.iterations,
    )
    # Private keys: readable by the owner only, and never over an existing file.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(document)
    _print(
        {
            "signing_public_key": E.public_key_text(signing.public_key()),
            "encryption_public_key": E.public_key_text(encryption.public_key()),
            "signing_key": E.public_key_fingerprint(signing.public_key()),
            "bidder_key": E.public_key_fingerprint(encryption.public_key()),
        }
    )
    return 0


def _bidder_keys(args) -> E.BidderKeys:
    return E.import_key_file(Path(args.keys).read_bytes(), passphrase=_passphrase(args))


def seal(args) -> int:
    keys = _bidder_keys(args)
    form = json.loads(Path(args.form).read_text(encoding="utf-8"))
    files = {name: path for name, path in (("commercial", args.commercial), ("technical", args.technical)) if path}
    target = Path(args.out)
    try:
        with open(target, "wb") as out:
            manifest = E.seal(
                section=args.section,
                bidder_code=args.bidder_code,
                opening_public_key=E.load_public_key(args.opening_key),
                bidder_public_key=keys.encryption.public_key(),
                signing_private_key=keys.signing,
                form=form,
                files=files,
                out=out,
                chunk_size=args.chunk_size,
            )
    except BaseException:
        target.unlink(missing_ok=True)  # never leave half an envelope that looks like one
        raise
    _print(
        {
            "out": str(target),
            "size": target.stat().st_size,
            "digest": _file_digest(target),
            "parts": [p["name"] for p in manifest["parts"]],
        }
    )
    return 0


def inspect(args) -> int:
    path = Path(args.envelope)
    with open(path, "rb") as fh:
        header = E.inspect(fh)
    manifest = header.manifest
    report = {"manifest": manifest, "size": path.stat().st_size, "signature": "not checked (no --signing-key)"}
    if args.signing_key:
        with open(path, "rb") as fh:
            verified = E.verify_structure(
                fh,
                expected_section=args.section or manifest["section"],
                expected_bidder_code=args.bidder_code or manifest["bidder_code"],
                opening_key_fingerprint=(
                    E.public_key_fingerprint(E.load_public_key(args.opening_key)) if args.opening_key else manifest["opening_key"]
                ),
                signing_public_key=E.load_public_key(args.signing_key),
                bidder_key_fingerprint=manifest["bidder_key"],
                max_size=sys.maxsize,
            )
        report.update(digest=verified.digest, signature="valid", structure="valid")
    else:
        if report["size"] != header.size:
            raise E.bad(f"the file is {report['size']} bytes, the header says {header.size}")
        report["digest"] = _file_digest(path)
    _print(report)
    return 0


def _safe_name(filename: str, fallback: str) -> str:
    # The name comes from inside the envelope: keep its last component only.
    name = Path(filename.replace("\\", "/")).name
    return name if name not in ("", ".", "..") and not name.startswith(".") else fallback


def open_(args) -> int:
    if args.keys:
        key, recipient = _bidder_keys(args).encryption, "bidder"
    else:
        pem = Path(args.opening_private_key).read_bytes()
        passphrase = _passphrase(args) if b"ENCRYPTED" in pem else None
        key, recipient = E.load_private_key(pem, passphrase=passphrase), "opening"
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"recipient": recipient, "parts": {}}
    with open(args.envelope, "rb") as fh:
        header = E.inspect(fh)
        report["form"] = E.open_form(fh, private_key=key, recipient=recipient)
        for part in header.manifest["parts"]:
            name = part["name"]
            if args.part and name not in args.part:
                continue
            folder = out_dir / name
            folder.mkdir(exist_ok=True)
            scratch = folder / ".opening"
            try:
                with open(scratch, "wb") as out:
                    meta = E.open_part(fh, private_key=key, recipient=recipient, part_name=name, out=out)
            except BaseException:
                scratch.unlink(missing_ok=True)  # a part that fails midway is not left half written
                raise
            target = folder / _safe_name(meta["filename"], name)
            scratch.replace(target)
            report["parts"][name] = {**meta, "path": str(target), "size": target.stat().st_size}
    _print(report)
    return 0


def verify_receipt(args) -> int:
    document = json.loads(Path(args.receipt).read_text(encoding="utf-8"))
    digest = _file_digest(Path(args.envelope)) if args.envelope else None
    try:
        body = receipts.verify_receipt(document, platform_key=args.platform_key, envelope_digest=digest)
    except receipts.ReceiptError as error:
        print(f"receipt: INVALID ({error.message})", file=sys.stderr)
        return 1
    trust = "the platform key given" if args.platform_key else "the key inside the file (pass --platform-key to pin it)"
    print(f"receipt: valid, signed with {trust}")
    _print(body)
    return 0


def _passphrase_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--passphrase-env", metavar="NAME", help="read the passphrase from this environment variable")
    parser.add_argument("--passphrase", help="the passphrase itself (visible in the process list: tests only)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m bidding.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = root.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="make a bidder's key pairs")
    p.add_argument("--out", required=True, help="the key file to create (refuses to overwrite)")
    p.add_argument("--iterations", type=int, default=E.KEYFILE_ITERATIONS, help="PBKDF2 iterations of the key file")
    _passphrase_options(p)
    p.set_defaults(run=keygen)
    p = sub.add_parser("seal", help="seal a bid")
    p.add_argument("--keys", required=True, help="the bidder's key file (keygen or the browser's backup)")
    p.add_argument("--section", required=True, help="the section's public id")
    p.add_argument("--bidder-code", required=True, help="your bidder code for this section, e.g. B-7K3Q")
    p.add_argument("--opening-key", required=True, help="the section's opening public key (base64url)")
    p.add_argument("--form", required=True, help='bid form JSON, e.g. {"price_fen": 123456789, "currency": "CNY"}')
    p.add_argument("--commercial", help="the commercial bid file")
    p.add_argument("--technical", help="the technical bid file")
    p.add_argument("--out", required=True, help="the envelope to write")
    p.add_argument("--chunk-size", type=int, default=E.DEFAULT_CHUNK)
    _passphrase_options(p)
    p.set_defaults(run=seal)
    p = sub.add_parser("inspect", help="check an envelope without decrypting")
    p.add_argument("envelope")
    p.add_argument("--signing-key", help="the registered signing public key (base64url): check everything")
    p.add_argument("--section", help="the section it must be sealed for")
    p.add_argument("--bidder-code", help="the bidder code it must carry")
    p.add_argument("--opening-key", help="the opening public key (base64url) it must be sealed to")
    p.set_defaults(run=inspect)
    p = sub.add_parser("open", help="decrypt an envelope")
    p.add_argument("envelope")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--keys", help="the bidder's key file: opens its own bid")
    key.add_argument("--opening-private-key", help="the rebuilt opening private key (PKCS#8 PEM)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--part", action="append", choices=E.PART_ORDER, help="only these parts (the form is always read)")
    _passphrase_options(p)
    p.set_defaults(run=open_)
    p = sub.add_parser("verify-receipt", help="check a receipt offline")
    p.add_argument("receipt")
    p.add_argument(
        "--platform-key",
        help="the platform's public key to trust (base64url; write --platform-key=KEY, a key may begin with '-'); "
        "default: the one in the file",
    )
    p.add_argument("--envelope", help="the envelope you uploaded: its digest must be the receipt's")
    p.set_defaults(run=verify_receipt)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except E.EnvelopeError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return 2
    except E.KeyFileError as error:
        print(f"KEY-FILE: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

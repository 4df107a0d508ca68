"""Deploy-path check (run by scripts/test after `sam build`, through .venv/bin/python):
what `sam build` left in .aws-sam/build is what `sam deploy` would zip and ship.

For every function of infra/template.yaml built with rust-cargolambda, the
built `bootstrap` must exist, be a 64-bit little-endian ELF executable for the
architecture the template declares (Globals or the function's own
`Architectures`; arm64 = AArch64), and be at most MAX_BYTES. The figures are
printed so the CI log holds them (BENCHMARKS.md, "Lambda functions").

The workspace may not define a cargo profile named `lambda` (see
`profile_collisions`).

`--self-test` runs the checker on seeded files (an x86_64 binary, an oversized
one, a non-ELF file, a missing one) that must each be rejected, and a valid
one that must pass.

Exit status 0 only when everything holds.
"""

import pathlib
import struct
import sys
import tempfile
import tomllib

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
BUILD = ROOT / ".aws-sam" / "build"
# The ceiling the deployed functions are held to (decimal megabytes).
MAX_BYTES = 8_000_000

# ELF e_machine values (System V ABI): the architectures Lambda runs.
MACHINES = {"arm64": 183, "x86_64": 62}


def functions(template):
    """(logical id, architecture) of each function built with rust-cargolambda."""
    default = template.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if resource.get("Metadata", {}).get("BuildMethod") != "rust-cargolambda":
            continue
        architectures = resource.get("Properties", {}).get("Architectures", default)
        yield name, architectures[0]


def problems(path, architecture, max_bytes=MAX_BYTES):
    """What is wrong with one built bootstrap (empty when nothing is)."""
    if not path.is_file():
        return [f"{path}: missing (did `sam build` run?)"]
    found = []
    header = path.read_bytes()[:20]
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return [f"{path}: not an ELF executable"]
    if header[4] != 2 or header[5] != 1:
        found.append(f"{path}: not a 64-bit little-endian ELF (class {header[4]}, data {header[5]})")
    machine = struct.unpack_from("<H", header, 18)[0]
    if machine != MACHINES[architecture]:
        found.append(f"{path}: ELF machine {machine}, but the template deploys it as {architecture} "
                     f"(machine {MACHINES[architecture]})")
    size = path.stat().st_size
    if size > max_bytes:
        found.append(f"{path}: {size} bytes, over the {max_bytes}-byte ceiling")
    return found


def profile_collisions(manifest):
    """Cargo writes a profile's binaries to target/<profile>/<bin>; cargo-lambda
    (and so `sam build`) writes target/lambda/<bin>/bootstrap. A profile named
    `lambda` turns the folder cargo-lambda needs into a file: a later `sam
    build` fails with "File exists"."""
    profiles = tomllib.loads(manifest.read_text()).get("profile", {})
    return [f"{manifest}: a cargo profile named `lambda` collides with cargo-lambda's output "
            f"folder target/lambda/<bin>/" for name in profiles if name == "lambda"]


def check_build():
    template, errors = decode(str(TEMPLATE))
    if errors:
        sys.exit(f"{TEMPLATE}: cannot be parsed: {errors}")
    failures = profile_collisions(ROOT / "Cargo.toml")
    built = list(functions(template))
    if not built:
        failures.append(f"{TEMPLATE}: no rust-cargolambda function found")
    for name, architecture in built:
        path = BUILD / name / "bootstrap"
        found = problems(path, architecture)
        if not found:
            size = path.stat().st_size
            print(f"{name}: bootstrap {architecture}, {size} bytes ({size / 1e6:.2f} MB)")
        failures.extend(found)
    return failures


def elf(machine, size):
    """A minimal 64-bit little-endian ELF header for `machine`, padded to `size` bytes."""
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 2, machine)
    return header + bytes(max(0, size - len(header)))


def self_test():
    failures = []

    def expect(label, found, accepted):
        ok = (not found) == accepted
        print(f"self-test {label}: {'accepted' if not found else 'rejected'}{'' if ok else '  <-- WRONG'}")
        if not ok:
            failures.append(f"self-test {label}: expected {'acceptance' if accepted else 'rejection'}, got {found}")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        small = elf(183, 4096)
        cases = [
            ("aarch64, small", small, True),
            ("x86_64 deployed as arm64", elf(62, 4096), False),
            ("aarch64 over the ceiling", elf(183, MAX_BYTES + 1), False),
            ("not an ELF file", b"#!/bin/sh\necho bootstrap\n", False),
            ("32-bit ELF", small[:4] + b"\x01" + small[5:], False),
        ]
        for label, content, accepted in cases:
            path = scratch / label.replace(" ", "-")
            path.write_bytes(content)
            expect(label, problems(path, "arm64"), accepted)
        manifest = scratch / "Cargo.toml"
        manifest.write_text('[profile.lambda]\ninherits = "release"\n')
        expect("profile named lambda", profile_collisions(manifest), False)
        expect("missing file", problems(scratch / "absent", "arm64"), False)
    return failures


def main():
    failures = self_test() if "--self-test" in sys.argv[1:] else check_build()
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("deploy artifacts checked")


if __name__ == "__main__":
    main()

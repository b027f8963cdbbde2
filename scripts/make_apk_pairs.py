"""Generate version pairs for the apk ordering test and record apk-tools' verdict on each.

    python scripts/make_apk_pairs.py APKCMP_3X [APKCMP_2_14] > tests/fixtures/versions/apk-pairs.tsv

APKCMP_* is a program that reads ``A<TAB>B`` lines and prints ``<``, ``=`` or ``>`` per line:
apk-tools' own ``apk_version_compare`` answer for each pair (apk-tools 3.0 and 2.14).

No apk-tools package exists for Debian, so CI cannot run it; the recorded verdicts are the
reference (apk-tools 3.0 master and 2.14-stable, which Alpine up to 3.21 ships).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

SUFFIXES = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]
ODD = ["", "RC", "foo", "a", "r"]


def real_versions() -> list[str]:
    root = Path(__file__).resolve().parent.parent / "tests/fixtures/osv/Alpine"
    out: set[str] = set()
    for f in root.glob("*.json"):
        for aff in json.loads(f.read_text()).get("affected", []):
            for rng in aff.get("ranges", []):
                for ev in rng.get("events", []):
                    out.update(
                        v for k, v in ev.items() if k in ("fixed", "introduced") and v != "0"
                    )
    return sorted(out)


def component(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.08:
        return "0" + str(rng.randint(0, 99))
    if r < 0.12:
        return "00"
    if r < 0.14:
        return str(rng.randint(10**9, 10**15))
    return str(rng.randint(0, 20))


def make(rng: random.Random) -> str:
    v = str(rng.choice([0, 1, 1, 2, 3, 8, 10, 2024, rng.randint(0, 99)]))
    for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
        v += "." + component(rng)
    if rng.random() < 0.15:
        v += rng.choice("abcpz")
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        v += "_" + rng.choice(SUFFIXES)
        if rng.random() < 0.6:
            v += str(rng.randint(0, 12))
    if rng.random() < 0.08:
        v += "~" + "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.7:
        v += f"-r{rng.randint(0, 12)}"
    if rng.random() < 0.06:  # invalid forms: apk must still order them somehow
        i = rng.randint(0, len(v))
        v = (
            v[:i]
            + rng.choice(["_" + rng.choice(ODD), "-", ".", "A", "-x1", "..", "~", "a1"])
            + v[i:]
        )
    return v


def mutate(rng: random.Random, v: str) -> str:
    choice = rng.random()
    if choice < 0.3 and "-r" in v:
        head, _, rev = v.rpartition("-r")
        return f"{head}-r{max(0, int(rev or 0) + rng.choice([-1, 1]))}" if rev.isdigit() else v
    if choice < 0.5:
        return v.split("-r")[0]
    if choice < 0.7:
        return v.replace(".", "." + rng.choice(["0", "1", ""]), 1)
    if choice < 0.85:
        return v + "_" + rng.choice(SUFFIXES) + rng.choice(["", "1"])
    return v


def pairs(n: int, seed: int = 20261202) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    real = real_versions()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        r = rng.random()
        a = rng.choice(real) if r < 0.4 else make(rng)
        if rng.random() < 0.4:
            b = mutate(rng, a)
        else:
            b = rng.choice(real) if rng.random() < 0.4 else make(rng)
        if "\t" not in a + b and "\n" not in a + b:
            out.append((a, b))
    return out


def verdicts(program: str, items: list[tuple[str, str]]) -> list[str]:
    text = "".join(f"{a}\t{b}\n" for a, b in items)
    done = subprocess.run([program], input=text, capture_output=True, text=True, check=True)
    got = done.stdout.split()
    assert len(got) == len(items), (len(got), len(items))
    return got


def main() -> None:
    items = pairs(6000)
    v3 = verdicts(sys.argv[1], items)
    v2 = verdicts(sys.argv[2], items) if len(sys.argv) > 2 else ["?"] * len(items)
    print("# a\tb\tapk-tools 3.0 (master 90b974f)\tapk-tools 2.14-stable")
    for (a, b), r3, r2 in zip(items, v3, v2, strict=True):
        print(f"{a}\t{b}\t{r3}\t{r2}")


if __name__ == "__main__":
    main()

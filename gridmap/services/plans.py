"""Planner workspace: re-partition as a background job, compare with the current version, publish.

A *plan* is a job of kind ``"plan"`` (:mod:`gridmap.services.jobs` runs it in a child process).
Its parameters are the options of ``gridmap partition`` (:class:`PlanParams`); its inputs are
either the current version's boundaries, roads and address library (``source="current"``) or
uploaded files kept with the job (``source="upload"``). The current version is always the
``--previous`` layer, so codes and shapes stay where they can and locks hold. :func:`run_plan`
writes the resulting GeoPackage (layers ``grids`` and ``micro_grids``) as the job file
``plan.gpkg`` and returns the summary: the partitioner's figures, a report per community (share
in band, flags with their Chinese labels, exclusive ratio) and the diff against the version it
started from (codes kept, changed, new and retired; households before and after per grid).

:func:`publish_plan` publishes a finished plan through :func:`gridmap.services.versions.publish`,
the path ``gridmap publish`` takes; nothing else here writes a version, so a failed or cancelled
job never touches the current one.

>>> PlanParams.from_dict({"min_households": 200, "max_households": 400, "locks": ["x"]}).config(
...     ).max_households
400
>>> diff_grids(*_two_layers())["counts"]
{'kept': 1, 'changed': 1, 'new': 1, 'retired': 1}
"""

from __future__ import annotations

import io as _bytes_io
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.errors import InputError
from gridmap.model import GRID_COLUMNS, SITE_CATEGORIES, STORAGE_CRS
from gridmap.partition.codes import same_extent
from gridmap.partition.config import DEFAULT_EXCLUSIVE_CATEGORIES, PartitionConfig
from gridmap.rules.labels import label
from gridmap.services.library import address_frame

KIND = "plan"
OUTPUT = "plan.gpkg"  # the job file holding the result
PUBLISHED = "published.json"  # the job file naming the version a plan became
SOURCES = ("current", "upload")
# Uploaded inputs: job file name stem -> reader kind; boundaries and addresses are required.
INPUT_FILES = ("boundaries", "addresses", "barriers", "sites")
REQUIRED_UPLOADS = ("boundaries", "addresses")
INPUT_SUFFIXES = (".gpkg", ".geojson", ".json", ".csv", ".zip")
DIFF_KINDS = ("kept", "changed", "new", "retired")

Progress = Callable[[float, str], None]


class PlanConflict(Exception):
    """The plan cannot do that in its state (not finished, failed checks, already published,
    the current version moved on); the message says which."""


# -- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanParams:
    """What a planner sets: the options of ``gridmap partition`` under the same names."""

    min_households: int = 300
    max_households: int = 500
    max_population: int | None = 2500
    max_area_km2: float | None = None
    micro_households: tuple[int, int] | None = (30, 150)
    # Grids of the current version kept exactly. None: the ones it has locked (its ``locked``
    # column, from earlier plans); a planner sees them pre-selected and may release them.
    locks: tuple[str, ...] | None = None
    exclusive_categories: tuple[str, ...] = DEFAULT_EXCLUSIVE_CATEGORIES
    exclusive_min_area_m2: float = 20_000.0
    exclusive_min_headcount: int = 300
    exclusive_ratio_limit: float = 0.25
    source: str = "current"  # "current": the current version's inputs; "upload": job files
    files: dict[str, str] = field(default_factory=dict)  # input -> job file name (uploads)
    base_version: int | None = None  # the version the plan starts from (set when submitted)

    @classmethod
    def from_dict(cls, data: dict) -> PlanParams:
        """From a job's JSON parameters (lists for tuples); unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("locks", "exclusive_categories"):
            if known.get(key) is not None:
                known[key] = tuple(str(v) for v in known[key])
        if known.get("micro_households") is not None:
            known["micro_households"] = tuple(int(v) for v in known["micro_households"])
        return cls(**known)

    def as_json(self) -> dict:
        data = asdict(self)
        data["locks"] = None if self.locks is None else list(self.locks)
        data["exclusive_categories"] = list(self.exclusive_categories)
        if self.micro_households is not None:
            data["micro_households"] = list(self.micro_households)
        return data

    def config(self) -> PartitionConfig:
        """The partitioner's options (InputError naming each bad one)."""
        return PartitionConfig(
            min_households=self.min_households,
            max_households=self.max_households,
            max_population=self.max_population,
            max_area_km2=self.max_area_km2,
            micro_households=self.micro_households,
            exclusive_categories=self.exclusive_categories,
            exclusive_min_area_m2=self.exclusive_min_area_m2,
            exclusive_min_headcount=self.exclusive_min_headcount,
            exclusive_ratio_limit=self.exclusive_ratio_limit,
        ).validate()


def prepare(store, params: PlanParams) -> PlanParams:
    """The parameters a plan is submitted with: checked (InputError naming the option) and tied
    to the current version (which the plan keeps codes from and is compared with)."""
    params.config()
    current = store.current_version()
    if params.source not in SOURCES:
        raise InputError.one(
            "options", f"source must be one of {', '.join(SOURCES)}", field="source"
        )
    if params.source == "current" and current is None:
        raise InputError.one(
            "options", "no grid version is published yet: upload the inputs", field="source"
        )
    if params.source == "upload":
        missing = [name for name in REQUIRED_UPLOADS if name not in params.files]
        if missing:
            raise InputError.one("files", f"missing file {missing[0]}", field=missing[0])
    locks = params.locks
    if locks is None:
        locks = tuple(current_locks(store)) if current is not None else ()
    if locks:
        if current is None:
            raise InputError.one(
                "options", "locks name grids of the current version", field="locks"
            )
        known = {f.code for f in store.layer_geometries(current.id, ("grid", "exclusive"))}
        unknown = sorted(set(locks) - known)
        if unknown:
            raise InputError.one(
                "options",
                f"{', '.join(unknown[:5])}: not a grid of the current version {current.id}",
                field="locks",
            )
    base = current.id if current else None
    return PlanParams(**{**asdict(params), "locks": tuple(locks), "base_version": base})


def current_locks(store) -> list[str]:
    """Codes of the current version's grids that a published plan locked."""
    current = store.current_version()
    if current is None:
        return []
    feats = store.layer_geometries(current.id, ("grid", "exclusive"))
    return sorted(f.code for f in feats if f.props.get("locked"))


# -- inputs --------------------------------------------------------------------------------------


@dataclass
class PlanInputs:
    """Everything one partition run reads (frames in EPSG:4490)."""

    boundaries: gpd.GeoDataFrame
    addresses: pd.DataFrame
    barriers: gpd.GeoDataFrame | None
    sites: gpd.GeoDataFrame | None
    previous: gpd.GeoDataFrame | None  # the base version's grids
    names: dict[str, str]  # input -> name for messages (an upload's own file name)


def load_inputs(store, job_id: int, params: PlanParams) -> PlanInputs:
    """The plan's inputs: the base version's layers or the uploaded job files."""
    base = params.base_version
    previous = version_grids(store, base) if base is not None else None
    names = {"previous": f"version {base}"}
    if params.source == "current":
        if base is None:
            raise InputError.one("options", "the plan names no version to start from")
        frames = {
            "boundaries": version_boundaries(store, base),
            "addresses": version_addresses(store, base),
            "barriers": version_layer(store, base, "roads", ("name", "kind")),
            "sites": version_sites(previous),
        }
        names |= {k: f"version {base} {k}" for k in frames}
    else:
        frames = {"barriers": None, "sites": None}
        names |= {k: k for k in INPUT_FILES}
    with tempfile.TemporaryDirectory(prefix="gridmap-plan-") as folder:
        for name in INPUT_FILES:
            file_name = params.files.get(name)
            if not file_name:
                continue  # a current-version plan may still bring its own sites file
            frames[name] = _read_upload(store, job_id, name, file_name, Path(folder))
            names[name] = file_name
    for name in REQUIRED_UPLOADS:
        if frames.get(name) is None:
            raise InputError.one(name, "missing input file", field=name)
    return PlanInputs(previous=previous, names=names, **frames)


def _read_upload(store, job_id: int, name: str, file_name: str, folder: Path):
    from gridmap import io
    from gridmap.services.jobs import read_file

    data = read_file(store, job_id, file_name)
    if data is None:
        raise InputError.one(file_name, "the uploaded file is gone")
    path = folder / f"{name}{Path(file_name).suffix.lower()}"
    if path.suffix == ".zip":
        path = _unzip_shapefile(data, folder / name, file_name)
    else:
        path.write_bytes(data)
    reader = {
        "boundaries": io.read_boundaries,
        "addresses": io.read_addresses,
        "barriers": io.read_barriers,
        "sites": io.read_sites,
    }[name]
    try:
        return reader(path)
    except InputError as error:
        # Messages name the file the planner uploaded, not the server's temporary copy.
        for problem in error.problems:
            object.__setattr__(problem, "file", file_name)
        raise


def _unzip_shapefile(data: bytes, folder: Path, file_name: str) -> Path:
    """A zipped Shapefile (with its .dbf, .shx, .prj and .cpg) unpacked; the .shp's path."""
    import zipfile

    try:
        archive = zipfile.ZipFile(_bytes_io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError.one(file_name, "is not a zip archive") from None
    shps = [n for n in archive.namelist() if n.lower().endswith(".shp") and "/" not in n]
    if len(shps) != 1:
        raise InputError.one(file_name, "a zip must hold exactly one .shp at its top level")
    stem = shps[0][:-4]
    folder.mkdir()
    for member in archive.namelist():
        if "/" in member or not member.startswith(stem + "."):
            continue  # only the shapefile's own parts, never a path outside the folder
        (folder / member).write_bytes(archive.read(member))
    return folder / shps[0]


def version_boundaries(store, version_id: int) -> gpd.GeoDataFrame:
    """A version's districts, streets and communities as a boundaries layer."""
    feats = store.layer_geometries(version_id, ("district", "street", "community"))
    rows = [
        {
            "code": f.code,
            "name": f.props.get("name") or "",
            "level": f.layer,
            "parent_code": f.props.get("parent_code"),
        }
        for f in feats
    ]
    return gpd.GeoDataFrame(
        rows, geometry=[f.geometry for f in feats], columns=["code", "name", "level", "parent_code"]
    ).set_crs(STORAGE_CRS)


def version_grids(store, version_id: int) -> gpd.GeoDataFrame:
    """A version's comprehensive and exclusive grids with the columns the partitioner keeps."""
    feats = store.layer_geometries(version_id, ("grid", "exclusive"))
    # the partitioner measures area and compactness itself
    columns = [c for c in GRID_COLUMNS if c not in ("area_m2", "polsby_popper")]
    rows = []
    for f in feats:
        p = f.props
        rows.append(
            {
                "grid_code": f.code,
                "kind": p.get("kind")
                or ("exclusive" if f.layer == "exclusive" else "comprehensive"),
                "community_code": p.get("community_code") or str(f.code)[:12],
                "host_grid_code": p.get("host_grid_code") or "",
                "households": int(p.get("households") or 0),
                "population": int(p.get("population") or 0),
                "flags": p.get("flags") or "",
                "site_id": p.get("site_id") or "",
                "site_category": p.get("site_category") or "",
                # The plan's locks decide (prepare() starts them from this column).
                "locked": 0,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=[f.geometry for f in feats], columns=columns).set_crs(
        STORAGE_CRS
    )


def version_sites(grids: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The sites behind a version's exclusive grids, so a re-partition keeps them.

    A published version does not hold the sites file: each exclusive grid stands for its site.
    Its headcount is not stored, so only the category criterion is applied again (the grid met
    the size criteria when it was made); a grid published without its site category keeps
    counting as a qualifying site.
    """
    if grids is None:
        return None
    exclusive = grids[grids["kind"] == "exclusive"]
    if not len(exclusive):
        return None
    category = exclusive["site_category"].where(
        exclusive["site_category"].isin(SITE_CATEGORIES), ""
    )
    site_id = exclusive["site_id"].where(exclusive["site_id"] != "", exclusive["grid_code"])
    return gpd.GeoDataFrame(
        {
            "site_id": site_id.to_numpy(),
            "name": exclusive["grid_code"].to_numpy(),
            "category": category.to_numpy(),
            "headcount": np.full(len(exclusive), -1, np.int64),  # see _qualifying_sites
        },
        geometry=exclusive.geometry.to_numpy(),
        crs=STORAGE_CRS,
    )


def _qualifying_sites(sites, config: PartitionConfig):
    """Sites taken from a version (headcount -1): a known category must still be chosen; the
    size criteria are met by construction (the headcount stands at the threshold)."""
    if sites is None or not len(sites) or not (sites["headcount"] == -1).any():
        return sites
    sites = sites.copy()
    from_version = (sites["headcount"] == -1).to_numpy()
    unknown = from_version & (sites["category"] == "").to_numpy()
    if config.exclusive_categories:
        sites.loc[unknown, "category"] = config.exclusive_categories[0]
    else:
        sites = sites[~unknown]
        from_version = from_version[~unknown]
    sites.loc[from_version, "headcount"] = config.exclusive_min_headcount
    return sites


def version_addresses(store, version_id: int) -> pd.DataFrame:
    """A version's address library as the partitioner reads it (components for buildings)."""
    frame = address_frame(store, version_id).drop(columns="grid_code", errors="ignore")
    if not len(frame):
        raise InputError.one(f"version {version_id}", "has no address library", field="addresses")
    return frame


def version_layer(store, version_id: int, layer: str, columns: tuple[str, ...]):
    feats = store.layer_geometries(version_id, (layer,))
    if not feats:
        return None
    return gpd.GeoDataFrame(
        [{c: f.props.get(c) for c in columns} for f in feats],
        geometry=[f.geometry for f in feats],
        columns=list(columns),
    ).set_crs(STORAGE_CRS)


# -- the job -------------------------------------------------------------------------------------


def run_plan(store, job, progress: Progress) -> dict:
    """The ``plan`` job handler: partition, write ``plan.gpkg``, return the summary.

    Raises InputError (bad parameters or files: the job fails with its message) and lets the
    job runner's cancellation through from ``progress``.
    """
    from gridmap.partition.cli import write_grids
    from gridmap.partition.engine import partition
    from gridmap.services.jobs import save_file

    params = PlanParams.from_dict(job.params)
    config = params.config()
    progress(0.01, "正在读取输入")
    inputs = load_inputs(store, job.id, params)
    progress(0.05, "正在核对输入")

    def community_done(done: int, total: int) -> None:
        # The job's progress() writes at most twice a second and raises once it is cancelled.
        progress(0.05 + 0.8 * done / total, f"正在划分社区 {done}/{total}")

    result = partition(
        inputs.boundaries,
        inputs.addresses,
        inputs.barriers,
        _qualifying_sites(inputs.sites, config),
        config,
        inputs.previous,
        locks=params.locks or (),
        progress=community_done,
        names=inputs.names,
    )
    progress(0.87, "正在写出成果 GeoPackage")
    with tempfile.TemporaryDirectory(prefix="gridmap-plan-") as folder:
        out = Path(folder) / OUTPUT
        write_grids(result, out)
        save_file(store, job.id, OUTPUT, out.read_bytes())
    progress(0.93, "正在与当前版本比对")
    diff = diff_grids(inputs.previous, result.grids)
    summary = {
        "source": params.source,
        "base_version": params.base_version,
        "ok": result.ok,
        "output": OUTPUT,
        "partition": result.summary,
        "warnings": warnings_zh(result.summary, config),
        "communities": community_report(result.grids, inputs.boundaries, config),
        "diff": diff,
    }
    progress(1.0, "完成")
    return summary


def warnings_zh(summary: dict, config: PartitionConfig) -> list[str]:
    """The partitioner's warnings as the workspace shows them, in Chinese.

    >>> warnings_zh({"exclusive": 9, "exclusive_ratio": 0.375, "mislabelled_addresses": 2},
    ...             PartitionConfig())  # doctest: +NORMALIZE_WHITESPACE
    ['专属网格与综合网格之比为 0.38，超过提示线 0.25：宜收紧专属网格认定条件',
     '2 个地址位于其 community_code 所标社区之外，已按实际位置划入']
    """
    out = []
    ratio = summary.get("exclusive_ratio")
    if summary.get("exclusive") and ratio is not None and ratio > config.exclusive_ratio_limit:
        out.append(
            f"专属网格与综合网格之比为 {ratio:.2f}，超过提示线 "
            f"{config.exclusive_ratio_limit:.2f}：宜收紧专属网格认定条件"
        )
    if summary.get("mislabelled_addresses"):
        out.append(
            f"{summary['mislabelled_addresses']} 个地址位于其 community_code 所标社区之外，"
            "已按实际位置划入"
        )
    return out


def community_report(
    grids: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, config: PartitionConfig
) -> list[dict]:
    """Per community: grids by kind, households, the share of comprehensive grids in the band
    (rounded down), the exclusive ratio and the flags with their Chinese labels."""
    from gridmap.partition.report import floor_share

    names = dict(zip(boundaries["code"].astype(str), boundaries["name"].astype(str), strict=True))
    out = []
    for code, group in grids.groupby("community_code", sort=True):
        comprehensive = group[group["kind"] == "comprehensive"]
        hh = comprehensive["households"].to_numpy()
        in_band = int(((hh >= config.min_households) & (hh <= config.max_households)).sum())
        exclusive = int((group["kind"] == "exclusive").sum())
        counts: dict[str, int] = {}
        for text in group["flags"].fillna(""):
            for flag in filter(None, str(text).split(";")):
                counts[flag] = counts.get(flag, 0) + 1
        out.append(
            {
                "code": str(code),
                "name": names.get(str(code), ""),
                "grids": len(group),
                "comprehensive": len(comprehensive),
                "exclusive": exclusive,
                "households": int(group["households"].sum()),
                "in_band": in_band,
                "share_in_band": floor_share(in_band, len(comprehensive)),
                "exclusive_ratio": round(exclusive / len(comprehensive), 4)
                if len(comprehensive)
                else None,
                "locked": int(group["locked"].sum()) if "locked" in group else 0,
                "flags": [
                    {"flag": flag, "label": label("flags", flag), "count": n}
                    for flag, n in sorted(counts.items())
                ],
            }
        )
    return out


def diff_grids(previous: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame) -> dict:
    """Codes kept (same code, same land), changed (same code, other land), new and retired,
    and households before and after for every grid of either layer.

    ``grids`` rows: ``{"code", "status", "kind", "households_before", "households_after",
    "change"}`` (None where the grid is absent on that side), sorted by code.
    """
    new = grids.set_index(grids["grid_code"].astype(str))
    old = (
        previous.set_index(previous["grid_code"].astype(str))
        if previous is not None
        else new.iloc[0:0]
    )
    result: dict = {key: [] for key in DIFF_KINDS}
    rows = []
    for code in sorted(set(old.index) | set(new.index)):
        before = int(old.at[code, "households"]) if code in old.index else None
        after = int(new.at[code, "households"]) if code in new.index else None
        if before is None:
            status = "new"
        elif after is None:
            status = "retired"
        else:
            same = same_extent(old.geometry[code], new.geometry[code])
            status = "kept" if same else "changed"
        result[status].append(code)
        kind = new.at[code, "kind"] if after is not None else old.at[code, "kind"]
        rows.append(
            {
                "code": code,
                "status": status,
                "kind": str(kind),
                "households_before": before,
                "households_after": after,
                "change": (after or 0) - (before or 0),
            }
        )
    result["counts"] = {key: len(result[key]) for key in DIFF_KINDS}
    result["grids"] = rows
    return result


def _two_layers():
    import shapely

    old = gpd.GeoDataFrame(
        {"grid_code": ["a", "b", "c"], "kind": ["comprehensive"] * 3, "households": [1, 2, 3]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)],
    )
    new = gpd.GeoDataFrame(
        {"grid_code": ["a", "b", "d"], "kind": ["comprehensive"] * 3, "households": [1, 3, 3]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2.5, 1), shapely.box(2.5, 0, 3, 1)],
    )
    return old, new


# -- results and publishing ----------------------------------------------------------------------


def plan_layers(store, job) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """A finished plan's grids and micro-grids, read back from its GeoPackage."""
    import pyogrio

    from gridmap.services.jobs import read_file

    if job.status != "done":
        raise PlanConflict(f"plan {job.id} is {job.status}, not done")
    data = read_file(store, job.id, OUTPUT)
    if data is None:
        raise PlanConflict(f"plan {job.id} has no result file")
    with tempfile.TemporaryDirectory(prefix="gridmap-plan-") as folder:
        path = Path(folder) / OUTPUT
        path.write_bytes(data)
        grids = pyogrio.read_dataframe(path, layer="grids")
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        micro = (
            pyogrio.read_dataframe(path, layer="micro_grids") if "micro_grids" in layers else None
        )
    return grids, micro


def publish_plan(store, job, *, note: str = "", published_by: str = "") -> dict:
    """Publish a finished plan as a new version made current (the path of ``gridmap publish``);
    returns the publish summary. PlanConflict when the plan is not done, failed its checks, was
    published already, or the current version is no longer the one it started from."""
    from gridmap.services import versions
    from gridmap.services.jobs import save_file

    if job.kind != KIND:
        raise PlanConflict(f"job {job.id} is not a plan")
    summary = dict(job.summary or {})
    if job.status != "done":
        raise PlanConflict(f"plan {job.id} is {job.status}: only a finished plan can be published")
    published = published_version(store, job.id)
    if published is not None:
        raise PlanConflict(f"plan {job.id} was published already as version {published}")
    if not summary.get("ok"):
        raise PlanConflict(
            f"plan {job.id} failed the partition checks (coverage, overlaps): "
            "it cannot be published"
        )
    params = PlanParams.from_dict(job.params)
    current = store.current_version()
    current_id = current.id if current else None
    if current_id != params.base_version:
        raise PlanConflict(
            f"the current version is {current_id}, but plan {job.id} was made against version "
            f"{params.base_version}: run the plan again"
        )
    grids, micro = plan_layers(store, job)
    inputs = load_inputs(store, job.id, params)
    addresses = inputs.addresses.drop(columns=["grid_code"], errors="ignore")
    answer = versions.publish(
        store,
        grids,
        inputs.boundaries,
        addresses,
        inputs.barriers,
        micro_grids=micro,
        note=note or f"规划方案 {job.id}",
        published_by=published_by,
    )
    # A finished job is never rewritten: which version a plan became is a file of the job.
    save_file(store, job.id, PUBLISHED, json.dumps({"version_id": answer["version_id"]}).encode())
    return answer


def published_version(store, job_id: int) -> int | None:
    """The version a plan was published as, or None."""
    from gridmap.services.jobs import read_file

    data = read_file(store, job_id, PUBLISHED)
    return None if data is None else int(json.loads(data)["version_id"])


def preview_features(store, job) -> list[dict]:
    """The plan's grids and the retired grids of its base version as GeoJSON features (storage
    datum) with ``code``, ``kind``, ``status`` (kept/changed/new/retired), households before and
    after and ``flags``: the diff overlay of the workspace."""
    grids, _micro = plan_layers(store, job)
    rows = {r["code"]: r for r in (job.summary or {}).get("diff", {}).get("grids", [])}
    features = []
    for r in grids.itertuples():
        row = rows.get(str(r.grid_code), {})
        features.append(
            _feature(
                r.geometry,
                {
                    "code": str(r.grid_code),
                    "kind": str(r.kind),
                    "community_code": str(r.community_code),
                    "status": row.get("status", "new"),
                    "households": int(r.households),
                    "households_before": row.get("households_before"),
                    "change": row.get("change"),
                    "flags": str(r.flags or ""),
                    "locked": int(getattr(r, "locked", 0) or 0),
                },
            )
        )
    retired = [r for r in rows.values() if r["status"] == "retired"]
    base = PlanParams.from_dict(job.params).base_version
    if retired and base is not None:
        wanted = {r["code"] for r in retired}
        for f in store.layer_geometries(base, ("grid", "exclusive")):
            if f.code in wanted:
                row = rows[f.code]
                features.append(
                    _feature(
                        f.geometry,
                        {
                            "code": f.code,
                            "kind": row["kind"],
                            "community_code": str(f.code)[:12],
                            "status": "retired",
                            "households": 0,
                            "households_before": row["households_before"],
                            "change": row["change"],
                            "flags": "",
                            "locked": 0,
                        },
                    )
                )
    return features


def _feature(geometry, props: dict) -> dict:
    """A GeoJSON feature, coordinates rounded to 1e-7 degrees (about a centimetre)."""
    import shapely

    rounded = shapely.transform(geometry, lambda xy: np.round(xy, 7))
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(rounded)}

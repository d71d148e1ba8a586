"""Products of long timelapses: memory and speed of a video, a contact sheet, a keogram.

A synthetic timelapse of N frames of 1024x1024 ``uint16`` (a lazy dask array: each
frame is made when read, as a Tiled request would return it, so nothing but the
product's own batch is ever in memory), and for each product the wall time,
frames per second and the peak resident memory of a child process that makes
only that product, side by side at each N. Target: a 10,000-slot 1024x1024 video
in well under 1 GB (the peak must not grow with N); misses are marked ``<``.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/products.py                   # 1,000 and 10,000 frames
    .venv/bin/python benchmarks/products.py --frames 200 1000 --size 512
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRODUCTS = ("mp4", "webm", "sheet", "keogram", "ome-zarr")


def child(product: str, frames: int, size: int, directory: Path) -> None:
    """Make one product of a synthetic timelapse; print its wall time and peak RSS."""
    import dask
    import dask.array as da
    import numpy as np
    import xarray as xr

    from bluesky_timelapse.products import (
        Tone,
        contact_sheet,
        keogram,
        write_ome_zarr,
        write_video,
    )

    @dask.delayed
    def frame(index: int) -> np.ndarray:
        y = np.arange(size, dtype=np.uint32)[:, None] + np.zeros(size, np.uint32)
        return ((y * 40 + index * 97) % 65536).astype(np.uint16)[None]

    pixels = da.concatenate(
        [da.from_delayed(frame(i), (1, size, size), np.uint16) for i in range(frames)]
    )
    times = np.datetime64("2026-01-01", "ns") + np.arange(frames) * np.timedelta64(60, "s")
    array = xr.DataArray(
        pixels,
        dims=("slot", "y", "x"),
        coords={"slot": np.arange(frames), "scheduled_time": ("slot", times)},
        name="cam_image",
    )
    tone = Tone(0, 65535)
    began = time.perf_counter()
    if product in ("mp4", "webm"):
        write_video(array, directory / f"t.{product}", tone=tone, progress=False)
    elif product == "sheet":
        contact_sheet(array, directory / "s.png", tone=tone, progress=False)
    elif product == "keogram":
        keogram(array, directory / "k.png", tone=tone, progress=False)
    else:
        write_ome_zarr(array, directory / "t.ome.zarr", tone=tone, progress=False)
    wall = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mb": peak_mb}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--products", nargs="+", default=list(PRODUCTS), choices=PRODUCTS)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        product, frames, directory = args.child
        child(product, int(frames), args.size, Path(directory))
        return 0
    rows = [["product", "frames", "size", "wall s", "frames/s", "peak RSS MB"]]
    for frames in args.frames:
        for product in args.products:
            with tempfile.TemporaryDirectory(dir=args.tmpdir) as directory:
                print(f"  {product} of {frames:,} frames ...", file=sys.stderr, flush=True)
                done = subprocess.run(
                    [sys.executable, __file__, "--size", str(args.size), "--child", product,
                     str(frames), directory],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                result = json.loads(done.stdout.splitlines()[-1])
            peak = result["peak_mb"]
            rows.append(
                [
                    product,
                    f"{frames:,}",
                    f"{args.size}x{args.size}",
                    f"{result['wall']:.1f}",
                    f"{frames / result['wall']:.1f}",
                    f"{peak:.0f}" + (" <" if peak >= 1024 else ""),
                ]
            )
    from machine import aligned

    print("\n".join(aligned(rows, 1)))
    print("peak RSS: of the process making the product (Python, numpy, PyAV included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

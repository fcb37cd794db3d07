"""Point-cloud kernels in pure PyTorch: farthest point sampling, ball query, kNN, gathering.

Every function works on any device (CPU, CUDA, MPS) and keeps peak memory
bounded: B × S × N distance tables are built a chunk of query points at a
time, and ball query never sorts them. The index-returning ops run without
autograd. Squared distances use the same expansion as the common
open-source PointNet++ (``−2 c·x + ‖c‖² + ‖x‖²``, yanx27/Pointnet_Pointnet2_pytorch),
so points on a radius boundary fall on the same side as there.

Distances are always computed in float32 (or float64), also inside a
bfloat16/float16 autocast region: a bf16 distance has 8 bits of mantissa,
enough to put a neighbour on the wrong side of a ball-query radius.
"""

from __future__ import annotations

import torch

# A chunk of query points holds at most this many (query, point) pairs: 2**22
# float32 distances are 16 MiB, plus a 4 MiB mask.
CHUNK_PAIRS = 1 << 22


def index_points(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gather rows per batch: ``points (B, N, C), idx (B, *S) long -> (B, *S, C)``.

    One ``index_select`` of whole rows from the flattened (B·N, C) table:
    row copies, several times faster than an element-wise ``gather``.
    """
    batch, count, channels = points.shape
    offsets = torch.arange(0, batch * count, count, device=idx.device)
    flat = (idx.reshape(batch, -1) + offsets.unsqueeze(1)).reshape(-1)
    rows = points.reshape(batch * count, channels).index_select(0, flat)
    return rows.reshape(*idx.shape, channels)


gather_points = index_points


def _chunk_size(batch: int, count: int, total: int, pairs: int) -> int:
    """How many of ``total`` query points to take at once so a chunk has at most ``pairs`` pairs."""
    return max(1, min(total, pairs // max(1, batch * count)))


def square_distance(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Squared distances ``(B, S, C), (B, N, C) -> (B, S, N)`` by the reference's expansion.

    Exactly the reference's operations in its order, so results agree bit for
    bit: ``−2 q·p`` (a power-of-two scale is exact), then ``+ ‖q‖²``, then ``+ ‖p‖²``.
    """
    with torch.autocast(queries.device.type, enabled=False):
        queries, points = full_precision(queries), full_precision(points)
        dist = torch.matmul(queries, points.transpose(1, 2)).mul_(-2)
        dist += torch.sum(queries**2, -1).unsqueeze(-1)
        dist += torch.sum(points**2, -1).unsqueeze(-2)
    return dist


def full_precision(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float32 if it is a 16-bit float, else unchanged."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def random_start(xyz: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniform random start point per cloud: ``xyz (B, N, 3) -> (B,) long`` on xyz's device.

    Drawn from ``generator`` (on its own device), or from torch's default
    generator of xyz's device when None, so ``torch.manual_seed`` governs it.
    """
    batch, count = xyz.shape[:2]
    if generator is None:
        return torch.randint(count, (batch,), device=xyz.device)
    return torch.randint(count, (batch,), generator=generator,
                         device=generator.device).to(xyz.device)


@torch.no_grad()
def farthest_point_sample(
    xyz: torch.Tensor,
    npoint: int,
    start: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Farthest point sampling: ``xyz (B, N, 3), npoint -> (B, npoint) long``.

    Step i takes the point farthest (squared Euclidean) from those chosen so
    far, the lowest index among ties. ``start`` (B,) long gives the first
    points; without it the first point is index 0 (deterministic), or drawn
    uniformly with ``generator`` when one is passed. The npoint steps are
    sequential by nature; each is vectorised over the batch and the points.
    With npoint > N the points run out and index repeats follow, as in the
    reference.
    """
    batch, count, _ = xyz.shape
    device = xyz.device
    if start is None:
        if generator is None:
            start = torch.zeros(batch, dtype=torch.long, device=device)
        else:
            start = random_start(xyz, generator)
    farthest = start.to(device=device, dtype=torch.long).reshape(batch)
    dims = xyz.shape[-1]
    # Coordinate planes (D, B, N): every op below runs on contiguous rows, and
    # buffers are reused, since the loop is many small ops.
    planes = xyz.permute(2, 0, 1).contiguous()
    nearest = torch.full((batch, count), 1e10, dtype=xyz.dtype, device=device)
    difference = torch.empty_like(planes)
    dist = torch.empty_like(nearest)
    chosen = [farthest]
    for _ in range(npoint - 1):
        centroid = planes.gather(2, farthest.view(1, batch, 1).expand(dims, batch, 1))
        torch.sub(planes, centroid, out=difference).square_()
        # ((dx² + dy²) + dz²): the reference's sum over the last axis, term for term.
        torch.add(difference[0], difference[1], out=dist)
        for axis in range(2, dims):
            dist.add_(difference[axis])
        torch.minimum(nearest, dist, out=nearest)
        farthest = nearest.argmax(-1)
        chosen.append(farthest)
    return torch.stack(chosen, 1)[:, :npoint]


@torch.no_grad()
def ball_query(
    radius: float,
    nsample: int,
    xyz: torch.Tensor,
    centres: torch.Tensor,
    *,
    chunk_pairs: int = CHUNK_PAIRS,
) -> torch.Tensor:
    """Neighbours within ``radius``: ``xyz (B, N, 3), centres (B, S, 3) -> (B, S, nsample) long``.

    Same result as the reference's ``query_ball_point``: the first
    ``nsample`` indices, in ascending index order, of the points with squared
    distance ≤ radius², the rest of the row filled with the first of them.
    A centre with no point in range (possible only for centres that are not
    cloud points) gets its nearest point throughout; the reference would index
    out of bounds there.

    Instead of the reference's B × S × N sort, each chunk of centres lists its
    in-range pairs with ``nonzero`` (row-major, so ascending within a row) and
    ranks them by subtracting the row's start offset: memory is bounded by
    ``chunk_pairs`` pairs, time is linear in N.
    """
    batch, count, _ = xyz.shape
    total = centres.shape[1]
    device = xyz.device
    out = torch.empty(batch, total, nsample, dtype=torch.long, device=device)
    slots = torch.arange(nsample, device=device)
    step = _chunk_size(batch, count, total, chunk_pairs)
    for lo in range(0, total, step):
        hi = min(total, lo + step)
        dist = square_distance(centres[:, lo:hi], xyz)
        rows_total = batch * (hi - lo)
        inside = (dist <= radius**2).view(rows_total, count)
        hits = inside.nonzero()
        rows, cols = hits[:, 0], hits[:, 1]
        found = inside.sum(-1)  # not bincount: it has no deterministic CUDA kernel
        offsets = found.cumsum(0) - found
        rank = torch.arange(rows.shape[0], device=device) - offsets[rows]
        keep = rank < nsample
        chunk = torch.zeros(rows_total, nsample, dtype=torch.long, device=device)
        chunk[rows[keep], rank[keep]] = cols[keep]
        empty = found == 0
        if bool(empty.any()):
            nearest = dist.view(rows_total, count)[empty].argmin(-1)
            chunk[empty, 0] = nearest
            found = found.clamp(min=1)
        chunk = torch.where(slots < found.unsqueeze(1), chunk, chunk[:, :1])
        out[:, lo:hi] = chunk.view(batch, hi - lo, nsample)
    return out


@torch.no_grad()
def knn(
    x: torch.Tensor,
    k: int,
    queries: torch.Tensor | None = None,
    *,
    chunk_pairs: int = CHUNK_PAIRS,
) -> torch.Tensor:
    """k nearest neighbours: ``x (B, N, C), k [, queries (B, S, C)] -> (B, S, k) long``, nearest first.

    Queries default to ``x`` itself (each point is then its own nearest).
    Distances are the squared-distance expansion; top-k runs per chunk of
    queries so the B × S × N table never exists whole.
    """
    if queries is None:
        queries = x
    batch, count, _ = x.shape
    total = queries.shape[1]
    out = torch.empty(batch, total, k, dtype=torch.long, device=x.device)
    step = _chunk_size(batch, count, total, chunk_pairs)
    for lo in range(0, total, step):
        hi = min(total, lo + step)
        dist = square_distance(queries[:, lo:hi], x)
        out[:, lo:hi] = dist.topk(k, dim=-1, largest=False, sorted=True).indices
    return out

"""Which Region a bucket's S3 Access Grants instance (and the bucket itself) lives in.

S3 Access Grants instances are regional, and GetDataAccess must be asked of the instance in the bucket's
Region; presigned URLs must be signed for it too. The access plan names every bucket's Region
(`BUCKET_REGIONS`, filled by `make deploy`): for those the answer is configuration, not a call. A bucket
the plan does not name is asked of S3 once (HeadBucket answers `x-amz-bucket-region` on 200, 301, 400 and
403, the way AWS's own Access Grants plugins resolve it) and remembered for the environment's life; if S3
cannot say (no such bucket, no answer), the function's Region stands and GetDataAccess decides there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

# Unplanned buckets remembered per environment: each answer is a few dozen bytes.
MAX_RESOLVED_BUCKETS = 1024

HeadBucketRegion = Callable[[str], str | None]


class BucketRegions:
    def __init__(
        self,
        planned: Mapping[str, str],
        default_region: str,
        resolve: HeadBucketRegion,
        *,
        max_resolved: int = MAX_RESOLVED_BUCKETS,
    ) -> None:
        self._planned = dict(planned)
        self._default = default_region
        self._resolve = resolve
        self._resolved: dict[str, str] = {}
        self._max_resolved = max_resolved
        self._lock = threading.Lock()

    @property
    def access_grants_regions(self) -> tuple[str, ...]:
        """Every Region the deployment keeps grants in (sorted, so pagination across them is stable)."""
        return tuple(sorted(set(self._planned.values()))) or (self._default,)

    def region_of(self, bucket: str) -> str:
        planned = self._planned.get(bucket)
        if planned is not None:
            return planned
        with self._lock:
            known = self._resolved.get(bucket)
        if known is not None:
            return known
        found = self._resolve(bucket)
        if found is None:
            return self._default  # not remembered: S3 may answer next time
        with self._lock:
            if len(self._resolved) >= self._max_resolved:
                self._resolved.clear()
            self._resolved[bucket] = found
        return found

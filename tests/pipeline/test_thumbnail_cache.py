"""The report's per-vehicle thumbnail cache on moto's S3 server: an unchanged vehicle is one read, a changed
picture is read again, and a vehicle with an unreadable image is never cached."""

from __future__ import annotations

from include.pipeline.thumbnails import ThumbnailCache, WantedThumbnail
from tests.photos import car_photo
from vehicle_photos.image_common.policy import SourcePolicy

PREFIX = "reports/_thumbnails"


def cached_objects(s3_client, bucket: str) -> list[str]:
    return [item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket, Prefix=PREFIX).get("Contents", [])]


def test_an_unchanged_vehicle_is_read_from_the_cache(moto_s3, s3_client, bucket):
    for index in range(2):
        s3_client.put_object(Bucket=bucket, Key=f"photos/V1/{index}.jpg", Body=car_photo(index, (400, 300)))
    vehicle = [WantedThumbnail(f"V1/{i}/before", f"s3://{bucket}/photos/V1/{i}.jpg", f"etag-{i}") for i in range(2)]
    cache, policy = ThumbnailCache(s3_client, bucket, PREFIX), SourcePolicy.build(allowed_buckets=[bucket])

    first = cache.thumbnails([vehicle], policy)
    assert set(first) == {"V1/0/before", "V1/1/before"}
    assert len(cached_objects(s3_client, bucket)) == 1

    s3_client.delete_object(Bucket=bucket, Key="photos/V1/0.jpg")  # reading it again would leave a hole
    assert cache.thumbnails([vehicle], policy) == first

    changed = [WantedThumbnail(vehicle[0].name, vehicle[0].uri, "etag-new"), vehicle[1]]
    again = cache.thumbnails([changed], policy)
    assert set(again) == {"V1/1/before"}  # read again, and the deleted photo is an empty cell
    assert len(cached_objects(s3_client, bucket)) == 1  # an incomplete vehicle is not cached


def test_a_damaged_cache_object_is_made_again(moto_s3, s3_client, bucket):
    s3_client.put_object(Bucket=bucket, Key="photos/V2/0.jpg", Body=car_photo(3, (400, 300)))
    vehicle = [WantedThumbnail("V2/0/before", f"s3://{bucket}/photos/V2/0.jpg", "etag-0")]
    cache, policy = ThumbnailCache(s3_client, bucket, PREFIX), SourcePolicy.build(allowed_buckets=[bucket])
    made = cache.thumbnails([vehicle], policy)
    [key] = cached_objects(s3_client, bucket)
    for damaged in (b"not json", b'{"V2/0/before": "javascript:alert(1)"}'):
        s3_client.put_object(Bucket=bucket, Key=key, Body=damaged)
        assert cache.thumbnails([vehicle], policy) == made

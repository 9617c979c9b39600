"""Static content deployed on apply: a bucket's `content` directory synced into the bucket through its runtime client.

- `sync`: the plan (files to upload, keys to delete) and its execution against any `BucketClient`, with the
  manifest object that says which keys the sync manages;
- `deploy`: which buckets of an environment have content, where they were deployed (the stacks' outputs), the
  sync after their stack applied, and the CDN invalidation of what changed (through the cloud's plug-in).
"""

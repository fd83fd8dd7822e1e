"""Long-form jobs: a book or long text read in the background, behind every listener, chunk by chunk.

Modules: runner (JobRunner: create, run, resume, cancel, progress), text (input formats and chunking),
audio (leveling and the finished file: m4b with chapters, zip, or one file), store (the jobs tables),
webhooks (the signed notice when a job ends).
"""

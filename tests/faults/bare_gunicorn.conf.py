"""gunicorn settings for the suite's own servers: none, the command line says everything.

gunicorn reads ./gunicorn.conf.py by default; the suite's servers name this file instead, so that what a test
sets on the command line (workers, threads, --preload or not) is all there is.
"""

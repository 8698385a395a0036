"""Run localstripe's aiohttp app on 127.0.0.1 with its disk persistence off.

Its own CLI binds every interface and pickles its state to a fixed /tmp path
on every write; tests need a fresh, private, loopback-only peer.
Usage: python tests/support/localstripe_server.py PORT
"""
import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

if __name__ == "__main__":
    web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None,
                access_log=None)

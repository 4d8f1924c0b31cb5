"""Modules shared by the tests of several folders: real Docker worlds, processes, the CLI edge, smoke replays."""

"""Talking to a PACS: nodes, echo, query, retrieve, send and a storage listener. No Qt.

medview is offline by default: nothing here opens a socket until the user configured a
node and asked for something of it, and then only to that node (or, for C-MOVE and the
``listen`` command, a listening socket on the port the user chose).

Layout:

- :mod:`.nodes`: the configured nodes and medview's own AE title/port (a JSON file in the
  user data folder);
- :mod:`.errors`: one-line errors that name the node;
- :mod:`.dimse`: C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE through pynetdicom;
- :mod:`.dicomweb`: QIDO-RS, WADO-RS, STOW-RS through dicomweb-client;
- :mod:`.storage`: where received objects go on disk, and which are there already;
- :mod:`.listener`: medview's storage SCP (C-STORE receiver);
- :mod:`.client`: the node-kind-independent calls the CLI and the GUI use.
"""

"""``nnforge playground``: watch a small network learn a 2-D dataset, in the browser, on ``nnforge.scratch``.

The picture is TensorFlow Playground's; the difference is that the network is the NumPy engine the
lessons teach, trained on the server, and the page can show that network as Python code and as an
nnforge recipe. Modules, one job each: :mod:`.datasets` (the points), :mod:`.network` (what the page
may build), :mod:`.session` (one tab's training), :mod:`.frames` (what the page draws),
:mod:`.export` (the code and the recipe), :mod:`.app` (HTTP + WebSocket), :mod:`.command` (the CLI).
"""

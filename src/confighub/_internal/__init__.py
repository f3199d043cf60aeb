"""Machinery shared by every layer of confighub; nothing here is public.

- ``serial``: the one in-order, one-at-a-time delivery loop (``SerialQueue``) and the
  observer built on it (``SerialEmitter``);
- ``dispatch``: the hub's streams (``Dispatcher``, ``Channel``), delivered through it;
- ``aio``: ``async for`` over an Observable;
- ``lifecycle``: the ``with``-block mixins ``StartStop`` and ``Closing``;
- ``filewatch``: one file watched from a background thread;
- ``schedulers``: the shared timer thread and stopping an event-loop scheduler;
- ``text``: how hashes and values are shown in messages.

Modules here import nothing of confighub but ``exceptions`` and each other.
"""

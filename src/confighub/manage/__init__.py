"""Managing a running ``HubServer`` over its HTTP API: its tracepoints and its agents.

``ManagementClient(url)`` lists, reads, creates, replaces and deletes the
tracepoints a server serves, or sets its whole config in one step, each write
with an optional compare-and-set on the config's hash (``if_match``), and lists
the agents that poll it. It is the
library behind ``confighub tp`` and ``confighub agents``; every failure is a
``ManagementError`` (``confighub.exceptions``) naming the call and the HTTP status.
"""

from confighub.manage._client import Listing, ManagementClient, Written
from confighub.manage._http import MAX_ANSWER_BYTES, check_server_url

__all__ = ["MAX_ANSWER_BYTES", "Listing", "ManagementClient", "Written", "check_server_url"]

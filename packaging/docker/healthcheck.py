"""HEALTHCHECK of the model-server image: exit 0 when /health answers 200, 1 otherwise.

Plain urllib, because slim bases have no curl; it sends the server's own basic-auth
credentials when they are set, so a protected server still reports healthy.
"""

import base64
import os
import sys
import urllib.request

request = urllib.request.Request(f"http://127.0.0.1:{os.environ.get('PORT', '9090')}/health")
user, password = os.environ.get("BASIC_AUTH_USER"), os.environ.get("BASIC_AUTH_PASS")
if user and password:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)

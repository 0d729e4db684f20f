"""How a pending authenticator is shown to the person setting it up: the QR code of its otpauth://
URL (an inline SVG data URI, so no request leaves the page) and the same key typed out in base32."""

from __future__ import annotations

import base64

import segno


def otp_setup_display(device) -> dict:
    return {"qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(scale=4),
            "secret": base64.b32encode(device.bin_key).decode()}

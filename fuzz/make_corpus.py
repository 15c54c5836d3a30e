#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: fuzz/corpus/<target>/.

Python standard library only; the Opus packets come from the system libopus
(the library rtp2jack links) through ctypes, encoding a fixed synthetic
signal, so a rerun with the same libopus writes the same bytes.

    python3 fuzz/make_corpus.py          # rewrites fuzz/corpus/
"""

import ctypes
import ctypes.util
import math
import pathlib
import shutil
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

# --- libopus through ctypes -------------------------------------------------

# opus_defines.h and opus_private.h (OPUS_SET_FORCE_MODE is what
# opus_demo -forcemode uses).
OPUS_APPLICATION_VOIP = 2048
OPUS_APPLICATION_AUDIO = 2049
OPUS_SET_BITRATE = 4002
OPUS_SET_VBR = 4006
OPUS_SET_COMPLEXITY = 4010
OPUS_SET_INBAND_FEC = 4012
OPUS_SET_PACKET_LOSS_PERC = 4014
OPUS_SET_DTX = 4016
OPUS_SET_FORCE_MODE = 11002
MODE_SILK_ONLY = 1000
MODE_HYBRID = 1001
MODE_CELT_ONLY = 1002


def load_opus():
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        sys.exit(f"make_corpus.py: cannot load libopus ({name}): {e}; install libopus0")
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int)]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_encode_float.restype = ctypes.c_int
    lib.opus_encode_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                      ctypes.c_char_p, ctypes.c_int]
    lib.opus_repacketizer_create.restype = ctypes.c_void_p
    lib.opus_repacketizer_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_repacketizer_cat.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.opus_repacketizer_out.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.opus_packet_pad.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    return lib


OPUS = load_opus()


def signal(frames, channels, start):
    """Deterministic speech-like test signal: a 140 Hz harmonic buzz under a
    4 Hz syllable envelope, plus a little LCG noise; interleaved floats."""
    out = []
    seed = 12345 + start
    for n in range(start, start + frames):
        t = n / 48000.0
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 4 * t)
        v = sum(math.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 8)) * 0.25 * env
        for c in range(channels):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            noise = (seed / 0x7FFFFFFF - 0.5) * 0.02
            out.append(v * (1.0 if c == 0 else 0.8) + noise)
    return out


def encode(count, frame, channels=2, app=OPUS_APPLICATION_AUDIO, bitrate=24000, mode=None,
           fec=False, dtx=False, cbr=False, silence_from=None):
    """`count` consecutive packets of `frame` samples from one encoder."""
    err = ctypes.c_int(0)
    enc = OPUS.opus_encoder_create(48000, channels, app, ctypes.byref(err))
    if err.value != 0 or not enc:
        sys.exit(f"make_corpus.py: opus_encoder_create failed ({err.value})")

    def ctl(req, val):
        if OPUS.opus_encoder_ctl(ctypes.c_void_p(enc), ctypes.c_int(req), ctypes.c_int(val)) != 0:
            sys.exit(f"make_corpus.py: opus_encoder_ctl({req}, {val}) failed")

    ctl(OPUS_SET_BITRATE, bitrate)
    ctl(OPUS_SET_COMPLEXITY, 5)
    if mode is not None:
        ctl(OPUS_SET_FORCE_MODE, mode)
    if fec:
        ctl(OPUS_SET_INBAND_FEC, 1)
        ctl(OPUS_SET_PACKET_LOSS_PERC, 20)
    if dtx:
        ctl(OPUS_SET_DTX, 1)
    if cbr:
        ctl(OPUS_SET_VBR, 0)
    packets = []
    buf = ctypes.create_string_buffer(4000)
    for i in range(count):
        pcm = signal(frame, channels, i * frame)
        if silence_from is not None and i >= silence_from:
            pcm = [0.0] * len(pcm)
        arr = (ctypes.c_float * len(pcm))(*pcm)
        n = OPUS.opus_encode_float(ctypes.c_void_p(enc), arr, frame, buf, len(buf))
        if n < 0:
            sys.exit(f"make_corpus.py: opus_encode_float failed ({n})")
        packets.append(buf.raw[:n])
    OPUS.opus_encoder_destroy(ctypes.c_void_p(enc))
    return packets


def repacketize(packets):
    rp = OPUS.opus_repacketizer_create()
    OPUS.opus_repacketizer_init(ctypes.c_void_p(rp))
    for p in packets:
        if OPUS.opus_repacketizer_cat(ctypes.c_void_p(rp), p, len(p)) != 0:
            sys.exit("make_corpus.py: opus_repacketizer_cat refused")
    buf = ctypes.create_string_buffer(8000)
    n = OPUS.opus_repacketizer_out(ctypes.c_void_p(rp), buf, len(buf))
    OPUS.opus_repacketizer_destroy(ctypes.c_void_p(rp))
    if n < 0:
        sys.exit(f"make_corpus.py: opus_repacketizer_out failed ({n})")
    return buf.raw[:n]


def pad(packet, new_len):
    buf = ctypes.create_string_buffer(packet, new_len)
    if OPUS.opus_packet_pad(buf, len(packet), new_len) != 0:
        sys.exit("make_corpus.py: opus_packet_pad failed")
    return buf.raw[:new_len]


def frames_of(packet):
    return OPUS.opus_packet_get_nb_samples(packet, len(packet), 48000)


def has_lbrr(p):
    """The LBRR flag as OpusStreamDecoder::has_lbrr reads it (code 0 only)."""
    if len(p) < 2 or (p[0] >> 3) >= 16 or (p[0] & 3) != 0:
        return False
    config = p[0] >> 3
    # RFC 6716 section 3.1: SILK configs 0-11 are 10/20/40/60 ms, hybrid 12-15 10/20 ms.
    spf = (480, 960, 1920, 2880)[config & 3] if config < 12 else (480, 960)[config & 1]
    silk = spf // 960 if spf > 960 else 1
    lbrr = (p[1] >> (7 - silk)) & 1
    if p[0] & 4:
        lbrr |= (p[1] >> (6 - 2 * silk)) & 1
    return bool(lbrr)


# --- RTP ---------------------------------------------------------------------

def rtp(payload=b"", seq=1000, ts=5000, ssrc=0x11223344, pt=96, marker=False, csrc=(), ext=None,
        padding=0, version=2):
    b0 = (version << 6) | len(csrc)
    if padding:
        b0 |= 0x20
    if ext is not None:
        b0 |= 0x10
    out = bytes([b0, (0x80 if marker else 0) | pt]) + struct.pack(">HII", seq, ts, ssrc)
    for c in csrc:
        out += struct.pack(">I", c)
    if ext is not None:
        profile, body = ext
        out += struct.pack(">HH", profile, len(body) // 4) + body
    out += payload
    if padding:
        out += bytes(padding - 1) + bytes([padding])
    return out


def rtcp_sr(ssrc=0x11223344):
    body = struct.pack(">IIIIII", ssrc, 0xE5A1B2C3, 0x40000000, 123456, 50, 8000)
    return bytes([0x80, 200]) + struct.pack(">H", len(body) // 4) + body


def rtcp_rr_bye(ssrc=0x11223344):
    rr = bytes([0x80, 201, 0, 1]) + struct.pack(">I", ssrc)
    bye = bytes([0x81, 203, 0, 1]) + struct.pack(">I", ssrc)
    return rr + bye


# --- rtcp_fuzz seeds (RFC 3550 section 6) ------------------------------------

def rtcp_packet(pt, count, body, padding=0):
    """One RTCP packet: header (V=2, P, count, PT, length in words - 1) and body."""
    if padding:
        body = body + bytes(padding - 1) + bytes([padding])
    assert len(body) % 4 == 0
    return bytes([0x80 | (0x20 if padding else 0) | count, pt]) + struct.pack(">H", len(body) // 4) + body


def report_block(ssrc=0x11223344, fraction=12, cum=3, ext=0x0001FF00, jitter=90, lsr=0xB2C31234,
                 dlsr=98304):
    return struct.pack(">IIIIII", ssrc, (fraction << 24) | (cum & 0xFFFFFF), ext, jitter, lsr, dlsr)


def sdes_chunk(ssrc, items):
    out = struct.pack(">I", ssrc)
    for t, text in items:
        out += bytes([t, len(text)]) + text
    out += b"\0"
    return out + bytes(-len(out) % 4)


def rtcp_seeds():
    sender_info = struct.pack(">IIIII", 0xE8A1B2C3, 0x80000000, 123456, 500, 64000)
    sr = rtcp_packet(200, 0, struct.pack(">I", 0x11223344) + sender_info)
    sr_block = rtcp_packet(200, 1, struct.pack(">I", 0x11223344) + sender_info + report_block(0x5EED5EED))
    sdes = rtcp_packet(202, 1, sdes_chunk(0x11223344, [(1, b"user@host")]))
    sdes_many = rtcp_packet(202, 2, sdes_chunk(0x11223344, [(1, b"a@b"), (2, b"name"), (6, b"tool")]) +
                            sdes_chunk(0x55667788, [(1, b"")]))
    rr = rtcp_packet(201, 1, struct.pack(">I", 0x5EED5EED) + report_block())
    rr_empty = rtcp_packet(201, 0, struct.pack(">I", 0x5EED5EED))
    ours = rtcp_packet(202, 1, sdes_chunk(0x5EED5EED, [(1, b"rtp2jack@host")]))
    bye = rtcp_packet(203, 1, struct.pack(">I", 0x5EED5EED))
    bye_reason = rtcp_packet(203, 2, struct.pack(">II", 1, 2) + bytes([5]) + b"gone!" + bytes(2))
    app = rtcp_packet(204, 3, struct.pack(">I", 0x11223344) + b"test" + b"data")
    rtpfb = rtcp_packet(205, 1, struct.pack(">III", 0x5EED5EED, 0x11223344, 0x00100001))
    xr = rtcp_packet(207, 0, struct.pack(">III", 0x11223344, 0x04000002, 0xE8A1B2C3))
    seeds = {
        # Well-formed: what ffmpeg and GStreamer send, what we send, and the rest.
        "sr_sdes_ffmpeg": sr + sdes,
        "sr_block_sdes": sr_block + sdes_many,
        "rr_sdes_ours": rr + ours,
        "rr_sdes_bye_ours": rr_empty + ours + bye,
        "rr_bye_reason": rr_empty + bye_reason,
        "sr_app_rtpfb_xr": sr + sdes + app + rtpfb + xr,
        "sr_padded_last": sr + rtcp_packet(203, 1, struct.pack(">I", 0x11223344), padding=4),
        "sr_alone": sr,
        # Malformed, one rule each (appendix A.2, section 6.4.1).
        "empty": b"",
        "three_bytes": bytes([0x80, 200, 0]),
        "not_words": sr + b"\0",
        "bad_version": bytes([0x40]) + (sr + sdes)[1:],
        "bye_first": bye + sr,
        "padded_first": bytes([sr[0] | 0x20]) + sr[1:],
        "padding_not_last": rtcp_packet(201, 0, struct.pack(">I", 1), padding=4) + sdes,
        "padding_too_long": rr_empty + bytes([0xA0, 203, 0, 1, 0, 0, 0, 9]),  # 9 octets of 4
        "length_overrun": sr[:2] + struct.pack(">H", 40) + sr[4:] + sdes,
        "sr_blocks_missing": bytes([0x82]) + sr[1:],
        "rr_block_missing": bytes([0x81, 201, 0, 1]) + struct.pack(">I", 1),
        "sdes_no_end": rr_empty + rtcp_packet(202, 1, struct.pack(">I", 1) + bytes([1, 2]) + b"ab"),
        "sdes_item_overrun": rr_empty + rtcp_packet(202, 1, struct.pack(">I", 1) + bytes([1, 9]) + b"ab"),
        "bye_reason_overrun": rr_empty + rtcp_packet(203, 1, struct.pack(">I", 1) + bytes([9, 0x61, 0x62, 0x63])),
        "app_short": rr_empty + rtcp_packet(204, 0, struct.pack(">I", 1)),
        "zero_length_chain": bytes([0x80, 201, 0, 0]) * 8,
    }
    return seeds


# --- stream_fuzz scripts (the format is in fuzz/stream_fuzz.cpp) -------------

def op_raw(adv_ms, datagram):
    assert 0 <= adv_ms < 64
    return bytes([adv_ms << 2 | 0]) + struct.pack(">H", len(datagram)) + datagram


def op_pkt(adv_ms, payload, step=1, sender_b=False, pt97=False, marker=False, pause=False):
    assert 0 <= adv_ms < 64 and -3 <= step <= 12 and len(payload) < 256
    f = (step + 3) | (0x10 if sender_b else 0) | (0x20 if pt97 else 0) | (0x40 if marker else 0)
    f |= 0x80 if pause else 0
    return bytes([adv_ms << 2 | 1, f, len(payload)]) + payload


def op_audio(adv_ms, playing, keep=False, render_ahead=2, lag=2):
    g = (1 if playing else 0) | (2 if keep else 0) | (render_ahead & 7) << 2 | (lag & 7) << 5
    return bytes([adv_ms << 2 | 2, g])


def op_idle(adv_ms, n5ms):
    return bytes([adv_ms << 2 | 3, n5ms])


def sequence(packets, order, adv_ms=20, **kw):
    """Packets sent in `order` (indices into `packets`), each step as the
    scripted sender expresses it."""
    out = b""
    prev = -1
    for k in order:
        out += op_pkt(adv_ms, packets[k], step=k - prev, **kw)
        prev = k
    return out


# --- the corpora -------------------------------------------------------------

def build():
    celt20 = encode(40, 960, mode=MODE_CELT_ONLY, bitrate=16000)
    celt10 = encode(4, 480, mode=MODE_CELT_ONLY, bitrate=24000)
    celt5 = encode(2, 240, mode=MODE_CELT_ONLY, bitrate=32000)
    celt2_5 = encode(2, 120, mode=MODE_CELT_ONLY, bitrate=48000)
    celt60 = encode(2, 2880, mode=MODE_CELT_ONLY, bitrate=12000)
    celt120 = encode(1, 5760, mode=MODE_CELT_ONLY, bitrate=8000)
    celt_cbr10 = encode(2, 480, mode=MODE_CELT_ONLY, bitrate=16000, cbr=True)
    silk_fec = encode(24, 960, channels=1, app=OPUS_APPLICATION_VOIP, bitrate=24000,
                      mode=MODE_SILK_ONLY, fec=True)
    silk_fec_st = encode(6, 960, channels=2, app=OPUS_APPLICATION_VOIP, bitrate=32000,
                         mode=MODE_SILK_ONLY, fec=True)
    silk40 = encode(3, 1920, channels=1, app=OPUS_APPLICATION_VOIP, bitrate=24000,
                    mode=MODE_SILK_ONLY, fec=True)
    silk60 = encode(3, 2880, channels=1, app=OPUS_APPLICATION_VOIP, bitrate=24000,
                    mode=MODE_SILK_ONLY, fec=True)
    hybrid20 = encode(4, 960, channels=2, bitrate=32000, mode=MODE_HYBRID)
    dtx = encode(30, 960, channels=1, app=OPUS_APPLICATION_VOIP, bitrate=12000,
                 mode=MODE_SILK_ONLY, dtx=True, silence_from=3)
    dtx_frames = [p for p in dtx[3:] if len(p) <= 2]
    if not dtx_frames:
        sys.exit("make_corpus.py: the encoder produced no DTX frame")
    fec_with_lbrr = [i for i, p in enumerate(silk_fec) if has_lbrr(p)]
    if not fec_with_lbrr:
        sys.exit("make_corpus.py: the FEC encoder produced no packet with LBRR")

    code1 = repacketize(celt_cbr10)            # two frames of one size
    code2 = repacketize(celt10[:2])            # two frames of different sizes
    code3 = repacketize(celt10[:3])            # three frames
    code3_pad = pad(code3, len(code3) + 300)   # with padding
    if (code1[0] & 3) != 1 or (code2[0] & 3) != 2 or (code3[0] & 3) != 3:
        sys.exit("make_corpus.py: the repacketizer did not give codes 1, 2 and 3")

    opus = {
        "celt_20ms_stereo": celt20[5],
        "celt_10ms": celt10[1],
        "celt_5ms": celt5[1],
        "celt_2_5ms": celt2_5[1],
        "celt_60ms_code3": celt60[1],
        "celt_120ms_code3": celt120[0],
        "silk_20ms_mono_lbrr": silk_fec[fec_with_lbrr[0]],
        "silk_20ms_mono_first": silk_fec[0],
        "silk_20ms_stereo_fec": silk_fec_st[3],
        "silk_40ms_fec": silk40[1],
        "silk_60ms_fec": silk60[1],
        "hybrid_20ms_stereo": hybrid20[2],
        "dtx_frame": dtx_frames[0],
        "code1_cbr": code1,
        "code2_vbr": code2,
        "code3_three": code3,
        "code3_padded": code3_pad,
        "toc_only_code0": bytes([0xFC]),
        "code1_odd_length": bytes([0xFD, 1, 2, 3, 4]),   # two equal frames from 4 bytes: invalid
        "code2_bad_length": bytes([0xFE, 250, 1, 2]),
        "code3_zero_frames": bytes([0xFF, 0x00]),
        "code3_49_frames": bytes([0xFF, 49]) + bytes(49),
        "code3_over_120ms": bytes([0x1B, 0x03]) + bytes(30),  # 3 x 60 ms SILK
        "code3_vbr_lengths": bytes([0xFB, 0x83, 2, 3, 9, 9, 7, 7, 7, 5, 5, 5]),
        "code3_padding_overrun": bytes([0xFB, 0x41, 0xFF, 0xFF, 10, 1, 2]),
        "empty": b"",
    }
    for name, p in opus.items():
        expect_valid = not (name.startswith(("code1_odd", "code2_bad", "code3_zero", "code3_49",
                                             "code3_over", "code3_padding", "empty")))
        if expect_valid and frames_of(p) <= 0:
            sys.exit(f"make_corpus.py: {name} should be a valid packet")

    rtp_seeds = {
        "minimal_opus": rtp(celt20[0]),
        "marker_pt111": rtp(celt10[0], pt=111, marker=True),
        "empty_payload": rtp(b""),
        "csrc2": rtp(celt5[0], csrc=(1, 2)),
        "csrc15": rtp(b"\xfc", csrc=tuple(range(15))),
        "ext_onebyte": rtp(celt5[0], ext=(0xBEDE, bytes([0x10, 0xAB, 0, 0]))),
        "ext_empty": rtp(celt5[0], ext=(0x1000, b"")),
        "pad4": rtp(celt5[0], padding=4),
        "pad_whole_payload": rtp(b"\x01\x02\x03", padding=4)[:-4] + bytes([0, 0, 0, 4]),
        "csrc_ext_pad": rtp(celt10[0], csrc=(7,), ext=(0xBEDE, bytes(8)), padding=3),
        "rtcp_sr": rtcp_sr(),
        "rtcp_rr_bye": rtcp_rr_bye(),
        "rtcp_pt_boundary_95": bytes([0x80, 0xDF]) + bytes(10),
        "pt_63_marker": bytes([0x80, 0xBF]) + bytes(10),
        "one_byte": b"\x80",
        "eleven_bytes": rtp(b"")[:11],
        "version0": rtp(celt5[0], version=0),
        "version3": rtp(celt5[0], version=3),
        "csrc_overrun": bytes([0x8F, 96]) + bytes(10) + bytes(20),
        "ext_header_overrun": bytes([0x90, 96]) + bytes(10) + b"\xbe",
        "ext_body_overrun": bytes([0x90, 96]) + bytes(10) + b"\xbe\xde\x00\x05" + bytes(8),
        "pad_zero": bytes([0xA0, 96]) + bytes(10) + b"\xfc\x00",
        "pad_too_long": bytes([0xA0, 96]) + bytes(10) + b"\xfc\x09",
        "pad_into_header": bytes([0xB1, 96]) + bytes(10) + bytes(4) + b"\x00\x00\x00\x00" + b"\x0c",
        "empty": b"",
    }

    # stream_fuzz sessions. Each builds on real consecutive packets, so the
    # LBRR a packet carries belongs to the one before it.
    play = op_audio(0, True, render_ahead=2, lag=4)
    s = {}
    s["in_order_playing"] = play + sequence(celt20, range(12))
    s["in_order_not_playing"] = sequence(celt20, range(10))
    s["loss_reorder_dup"] = play + sequence(celt20, [0, 1, 2, 4, 3, 5, 6, 6, 8, 9, 7, 10, 13, 11, 12,
                                                     14, 15, 17, 18, 19])
    s["fec_losses"] = play + sequence(silk_fec, [0, 1, 2, 3, 5, 6, 7, 9, 10, 13, 14, 15, 16, 17, 20,
                                                 21, 22, 23])
    s["fec_reordered"] = sequence(silk_fec, [0, 1, 2, 4, 3, 6, 5, 7, 8, 10, 9, 11], adv_ms=25)
    s["fec_stereo"] = play + sequence(silk_fec_st, [0, 1, 3, 4, 5])
    s["long_outage"] = (play + sequence(celt20, range(8)) + op_idle(0, 60) +
                        op_pkt(0, celt20[20], step=12) + sequence(celt20[21:26], range(5)))
    s["restart_after_idle"] = (play + sequence(celt20, range(6)) + op_idle(20, 30) +
                               sequence(celt20[10:], range(6), sender_b=True) +
                               op_pkt(20, celt20[6], step=6))
    s["second_sender_talks_over"] = play + b"".join(
        op_pkt(20, celt20[i]) + op_pkt(1, celt20[20 + i], sender_b=True) for i in range(8))
    s["payload_type_change"] = (sequence(celt20, range(5)) +
                                sequence(celt20[5:], range(5), pt97=True))
    # Sender A's packet k (20 ms packets) as a raw datagram; its script starts
    # at sequence number 65531 and timestamp 0xFFFFC000 + 960.
    def a_seq(k):
        return (65531 + k) & 0xFFFF

    def a_ts(k):
        return (0xFFFFC000 + (k + 1) * 960) & 0xFFFFFFFF

    seq_jump = rtp(celt20[9], seq=(a_seq(9) + 5000) & 0xFFFF, ts=a_ts(9))
    s["raw_mix"] = (sequence(celt20, range(4)) +
                    op_raw(5, rtcp_sr()) +
                    op_raw(15, rtp(celt20[4], seq=a_seq(4), ts=a_ts(4), csrc=(9,),
                                   ext=(0xBEDE, bytes(4)), padding=2)) +
                    op_raw(1, rtp(b"")[:7]) +
                    op_raw(1, rtp(bytes([0xFF, 0x00]), seq=65535)) +
                    op_raw(20, seq_jump) +
                    op_pkt(20, celt20[10], step=1))
    s["pool_pressure"] = (op_audio(0, True, keep=True) + sequence(celt2_5 * 20, range(40), adv_ms=0) +
                          op_audio(30, True, keep=False) + sequence(celt20, range(3)))
    held = [celt20[0]] + [bytes([0xFC]) for _ in range(80)]  # 80 tiny packets after a gap
    s["gap_outlives_window"] = (op_pkt(0, held[0]) + op_pkt(1, held[1], step=2) +
                                b"".join(op_pkt(0, p) for p in held[2:]))
    s["frame_sizes"] = (op_pkt(20, celt10[0]) + op_pkt(10, celt10[1]) + op_pkt(10, celt5[0]) +
                        op_pkt(5, celt2_5[0]) + op_pkt(3, celt60[0]) + op_pkt(60, celt120[0]) +
                        op_pkt(63, hybrid20[0]) + op_pkt(20, silk40[0]) + op_pkt(40, silk60[0]) +
                        op_pkt(60, code3) + op_pkt(30, code1) + op_pkt(10, code2))
    quirk = b""  # GStreamer's rtpopuspay: the first timestamp step is 648
    for i in range(6):
        ts = 7000 + (0 if i == 0 else 648 + (i - 1) * 960)
        quirk += op_raw(20, rtp(celt20[i], seq=200 + i, ts=ts, ssrc=0xCAFE, marker=(i == 0)))
    s["gstreamer_first_step_648"] = play + quirk
    s["dtx_pause"] = play + sequence(dtx[:3], range(3)) + b"".join(
        op_pkt(20, p, pause=(i == 1)) for i, p in enumerate(dtx_frames[:3])) + sequence(
        silk_fec[:3], range(3))
    s["invalid_opus"] = b"".join(op_pkt(10, p) for p in (
        bytes([0xFF, 0x00]), bytes([0xFD, 1, 2, 3, 4]), b"", celt20[0], bytes([0x1B, 0x03]) + bytes(30)))
    s["audio_toggles"] = (sequence(celt20, range(3)) + op_audio(0, True, render_ahead=7, lag=0) +
                          sequence(celt20[3:], range(3)) + op_audio(5, False) +
                          op_idle(0, 10) + op_audio(0, True, lag=7) + sequence(celt20[6:], range(4)))
    s["mono_in_order"] = play + sequence(silk_fec_st, range(6))
    s["only_pt96"] = (sequence(celt20, range(3)) + sequence(celt20[3:], range(3), pt97=True) +
                      sequence(celt20[6:], range(3)))
    s["empty"] = b""
    # Uncompressed payloads: stereo L24 in 40-frame packets (the scripted
    # sender takes at most 255 bytes; AES67 sends 48), a loss, a
    # reordering, a packet that is not whole frames; mono L16 in 5 ms.
    l24 = [bytes((k * 7 + i) & 0xFF for i in range(240)) for k in range(12)]
    s["pcm_l24_stereo"] = (play + sequence(l24, [0, 1, 2, 4, 3, 5, 7, 8, 9], adv_ms=1) +
                        op_pkt(1, l24[10][:239]) + op_idle(0, 4))
    l16 = [bytes((k * 13 + i) & 0xFF for i in range(240)) for k in range(8)]
    s["pcm_l16_mono"] = play + sequence(l16, [0, 1, 3, 4, 5], adv_ms=5) + op_idle(0, 10)

    # The configuration byte: mono decoding (1), only payload type 96 (2),
    # L24/48000/2 (8), L16/48000/1 (16).
    config = {"mono_in_order": 1, "only_pt96": 2, "fec_stereo": 1, "pcm_l24_stereo": 8, "pcm_l16_mono": 16}
    s = {name: bytes([config.get(name, 0)]) + script for name, script in s.items()}

    return {"rtp_fuzz": rtp_seeds, "rtcp_fuzz": rtcp_seeds(), "opus_toc_fuzz": opus, "stream_fuzz": s}


def main():
    corpora = build()
    total = 0
    for target, seeds in corpora.items():
        d = CORPUS / target
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for name, data in seeds.items():
            if target == "stream_fuzz" and len(data) > 4096:
                sys.exit(f"make_corpus.py: stream seed {name} is {len(data)} bytes (max_len 4096)")
            (d / f"{name}.bin").write_bytes(data)
            total += len(data)
        print(f"{target}: {len(seeds)} seeds")
    print(f"{total} bytes in all")


if __name__ == "__main__":
    main()

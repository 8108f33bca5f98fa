"""Exact argv of the broadcast builders, and the ffconcat list they write."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.broadcast import commands

HOUSE_VIDEO = [
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high", "-pix_fmt", "yuv420p",
    "-r", "24", "-g", "48", "-keyint_min", "48", "-sc_threshold", "0",
]  # fmt: skip
HOUSE_AUDIO = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


def test_conform_segment_argv_concat_filter_scale_crop_and_exact_lengths() -> None:
    argv = commands.conform_segment_argv(
        [Path("/m/shot-1.mkv"), Path("/m/shot 2.mp4")], Path("/m/score.wav"), Path("/out/seg.mp4"),
        width=1024, height=576, fps=24, seconds=5.5,
    )  # fmt: skip
    # 5.5 s at 24 fps = 132 frames; audio: floor(5.5 * 48000 / 1024) - 1 = 256 AAC frames = 262144 samples.
    assert argv == [
        "-i", "/m/shot-1.mkv", "-i", "/m/shot 2.mp4", "-i", "/m/score.wav",
        "-filter_complex",
        "[0:v:0]scale=1024:576:force_original_aspect_ratio=increase,crop=1024:576,setsar=1,fps=24,format=yuv420p[v0];"
        "[1:v:0]scale=1024:576:force_original_aspect_ratio=increase,crop=1024:576,setsar=1,fps=24,format=yuv420p[v1];"
        "[v0][v1]concat=n=2:v=1:a=0,tpad=stop_mode=clone:stop_duration=5.5,trim=end_frame=132,setpts=N/(24*TB)[v];"
        "[2:a:0]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
        "apad=whole_len=262144,atrim=end_sample=262144,asetpts=N/SR/TB[a]",
        "-map", "[v]", "-map", "[a]", *HOUSE_VIDEO, *HOUSE_AUDIO,
        "-t", "5.5", "-movflags", "+faststart", "-f", "mp4", "/out/seg.mp4",
    ]  # fmt: skip


def test_conform_rounds_to_whole_frames_and_makes_relative_paths_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = commands.conform_segment_argv(
        [Path("-shot.mp4")], Path("a:b.wav"), Path("out.mp4"), width=320, height=180, fps=30, seconds=1.01
    )
    assert argv[:4] == ["-i", str(tmp_path / "-shot.mp4"), "-i", str(tmp_path / "a:b.wav")]
    assert argv[-1] == str(tmp_path / "out.mp4")
    assert argv[argv.index("-t") + 1] == "1"  # 30 frames
    assert "trim=end_frame=30" in argv[argv.index("-filter_complex") + 1]


def test_a_shot_with_its_own_filters_is_brought_to_the_house_format_by_them() -> None:
    kept_small = "tpad=stop=3:stop_mode=clone,framerate=fps=24,trim=end_frame=72,scale=1024:576:flags=lanczos"
    argv = commands.conform_segment_argv(
        [Path("/m/small.mp4"), Path("/m/house.mp4")], Path("/m/score.wav"), Path("/out/seg.mp4"),
        width=1024, height=576, fps=24, seconds=6, shot_filters=[kept_small, None],
    )  # fmt: skip
    chains = argv[argv.index("-filter_complex") + 1].split(";")
    assert chains[0] == f"[0:v:0]{kept_small},format=yuv420p[v0]"
    assert chains[1] == (
        "[1:v:0]scale=1024:576:force_original_aspect_ratio=increase,crop=1024:576,setsar=1,fps=24,format=yuv420p[v1]"
    )
    with pytest.raises(ValueError, match="1 shot filters for 2 shots"):
        commands.conform_segment_argv(
            [Path("/a.mp4"), Path("/b.mp4")], Path("/m.wav"), Path("/o.mp4"), width=2, height=2, fps=24, seconds=1,
            shot_filters=[None],
        )  # fmt: skip


def test_conform_needs_a_shot() -> None:
    with pytest.raises(ValueError, match="at least one shot"):
        commands.conform_segment_argv([], Path("/m.wav"), Path("/o.mp4"), width=2, height=2, fps=24, seconds=1)


@pytest.mark.parametrize("seconds", [0.5, 2.0, 2.5, 3.0, 4.0416667, 7.3333333, 10.0, 59.96, 600.0])
def test_house_audio_ends_within_one_to_two_aac_frames_of_the_video(seconds: float) -> None:
    samples = commands.house_audio_samples(seconds)
    frame = commands.AAC_FRAME_SAMPLES
    assert samples % frame == 0
    # after stream copy the packets span [-1 frame, samples]: they must end before the next item's priming frame
    assert samples <= seconds * commands.AUDIO_RATE - frame
    assert samples > seconds * commands.AUDIO_RATE - 2 * frame


def test_filler_card_argv_is_bounded_and_in_house_format() -> None:
    argv = commands.filler_card_argv(Path("/media/filler/card.mp4"), width=1024, height=576, fps=24, seconds=2.0)
    assert argv == [
        "-f", "lavfi", "-i", "color=c=0x12141a:s=1024x576:r=24:d=2",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
        "-filter_complex", "[0:v]noise=alls=4:allf=t,format=yuv420p[v];[1:a]atrim=end_sample=94208,asetpts=N/SR/TB[a]",
        "-map", "[v]", "-map", "[a]", *HOUSE_VIDEO, *HOUSE_AUDIO,
        "-t", "2", "-movflags", "+faststart", "-f", "mp4", "/media/filler/card.mp4",
    ]  # fmt: skip


def test_feed_item_argv_stream_copies_to_mpegts_on_stdout_at_an_offset() -> None:
    assert commands.feed_item_argv(Path("/media/seg.mp4"), 12.541667) == [
        "-i", "/media/seg.mp4", "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-output_ts_offset", "12.541667", "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


def hls_args(flags: str) -> list[str]:
    return [
        "-f", "mpegts", "-i", "pipe:0", "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_flags", flags,
        "-hls_segment_type", "mpegts", "-hls_segment_filename", "/data/hls/seg_%05d.ts", "/data/hls/index.m3u8",
    ]  # fmt: skip


FRESH = "delete_segments+independent_segments+program_date_time+omit_endlist+temp_file"


def test_playout_encoder_argv_realtime_fresh_playlist_hls_only() -> None:
    argv = commands.playout_encoder_argv(Path("/data/hls"), realtime=True, continue_playlist=False)
    assert argv == ["-readrate", "1", *hls_args(FRESH)]


def test_playout_encoder_argv_restarted_as_fast_as_possible_with_rtmp() -> None:
    argv = commands.playout_encoder_argv(
        Path("/data/hls"), realtime=False, continue_playlist=True, rtmp_url="rtmp://127.0.0.1:1935/live/x"
    )
    assert argv == [
        *hls_args(FRESH + "+append_list"),
        "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "flv", "rtmp://127.0.0.1:1935/live/x",
    ]  # fmt: skip


def test_playout_encoder_escapes_percent_in_the_segment_pattern() -> None:
    argv = commands.playout_encoder_argv(
        Path("/data/100%/hls"), realtime=False, continue_playlist=False, hls_list_size=10
    )
    assert argv[argv.index("-hls_segment_filename") + 1] == "/data/100%%/hls/seg_%05d.ts"
    assert argv[argv.index("-hls_list_size") + 1] == "10"
    assert argv[-1] == "/data/100%/hls/index.m3u8"


def test_concat_episode_argv_stream_copies_a_list() -> None:
    assert commands.concat_episode_argv(Path("/work/ep.ffconcat"), Path("/media/ep.mp4")) == [
        "-f", "concat", "-safe", "0", "-i", "/work/ep.ffconcat", "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-movflags", "+faststart", "-f", "mp4", "/media/ep.mp4",
    ]  # fmt: skip


def test_write_ffconcat_quotes_every_path(tmp_path: Path) -> None:
    list_path = tmp_path / "work" / "episode.ffconcat"
    commands.write_ffconcat([Path("/m/a.mp4"), Path("/m/it's #1 \\ [x].mp4")], list_path)
    assert list_path.read_text(encoding="utf-8") == (
        "ffconcat version 1.0\nfile '/m/a.mp4'\nfile '/m/it'\\''s #1 \\ [x].mp4'\n"
    )


@pytest.mark.parametrize("bad", ["/m/a\nfile '/etc/passwd'.mp4", "/m/a\r.mp4"])
def test_write_ffconcat_rejects_line_breaks(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        commands.write_ffconcat([Path("/m/ok.mp4"), Path(bad)], tmp_path / "list.ffconcat")
    assert not (tmp_path / "list.ffconcat").exists()


def test_write_ffconcat_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        commands.write_ffconcat([], tmp_path / "list.ffconcat")

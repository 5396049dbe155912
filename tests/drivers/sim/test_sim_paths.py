"""The simulator folder's layout: every endpoint by name, reader links apart from bus links."""

from __future__ import annotations

from pathlib import Path

from drivers.sim.paths import bus_link, gpio_socket, meters_socket, printer_stream, reader_link, reader_socket, sim_dir


def test_every_endpoint_lives_in_the_state_dirs_sim_folder(tmp_path: Path) -> None:
    folder = sim_dir(tmp_path / "state")
    assert folder == tmp_path / "state" / "sim"
    assert [p.name for p in (reader_link(folder, "nfc-1"), reader_socket(folder, "nfc-1"), bus_link(folder, "rs485-1"),
                             meters_socket(folder), gpio_socket(folder), printer_stream(folder))] == \
        ["nfc-1.tty", "nfc-1.sock", "rs485-1", "meters.sock", "gpio.sock", "printer.escpos"]
    assert {p.parent for p in (reader_link(folder, "x"), bus_link(folder, "x"), gpio_socket(folder))} == {folder}


def test_a_reader_and_a_bus_of_the_same_id_do_not_share_a_link(tmp_path: Path) -> None:
    assert reader_link(tmp_path, "line-1") != bus_link(tmp_path, "line-1")

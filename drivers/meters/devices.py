"""Device specifications: plain constructor arguments the gateway fills from its config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from drivers.meters import cjt188, dlt645
from drivers.meters.bcd import address_to_wire
from drivers.meters.regmap import RegisterMap, load_register_map


def _check_common(device_id: str, timeout: float, retries: int, preamble: int | None = None) -> None:
    if not device_id:
        raise ValueError("device_id must not be empty")
    if not 0 < timeout <= 30:
        raise ValueError(f"{device_id}: timeout must be in (0, 30] seconds, got {timeout}")
    if not 0 <= retries <= 10:
        raise ValueError(f"{device_id}: retries must be 0..10, got {retries}")
    if preamble is not None and not 0 <= preamble <= 4:
        raise ValueError(f"{device_id}: preamble must be 0..4 FE bytes, got {preamble}")


@dataclass(frozen=True, kw_only=True)
class ModbusDevice:
    """A Modbus RTU slave read through a register map (a RegisterMap, a shipped map name or a path)."""

    protocol: ClassVar[str] = "modbus"
    device_id: str
    unit: int
    register_map: RegisterMap | str
    timeout: float = 0.2  # wait for the reply to start once the request is on the wire
    retries: int = 1

    def __post_init__(self) -> None:
        _check_common(self.device_id, self.timeout, self.retries)
        if not 1 <= self.unit <= 247:
            raise ValueError(f"{self.device_id}: Modbus unit must be 1..247, got {self.unit}")
        if not isinstance(self.register_map, RegisterMap):
            object.__setattr__(self, "register_map", load_register_map(self.register_map))

    @property
    def map(self) -> RegisterMap:
        assert isinstance(self.register_map, RegisterMap)
        return self.register_map


@dataclass(frozen=True, kw_only=True)
class Dlt645Device:
    """A DL/T 645-2007 electricity meter; ``items`` are names from ``dlt645.ITEMS_BY_NAME``."""

    protocol: ClassVar[str] = "dlt645"
    device_id: str
    address: str  # 12 digits from the nameplate
    items: tuple[str, ...] = ("energy_import", "voltage_a", "current_a", "power")
    timeout: float = 0.5  # the standard allows a meter up to 500 ms to start answering
    retries: int = 1
    preamble: int = 4

    def __post_init__(self) -> None:
        _check_common(self.device_id, self.timeout, self.retries, self.preamble)
        address_to_wire(self.address, 6)
        object.__setattr__(self, "address", self.address.upper())
        if self.address == dlt645.BROADCAST_ADDRESS:
            raise ValueError(f"{self.device_id}: give the meter's own address (find it with discover_dlt645)")
        object.__setattr__(self, "items", tuple(self.items))
        unknown = [i for i in self.items if i not in dlt645.ITEMS_BY_NAME]
        if unknown or not self.items:
            raise ValueError(f"{self.device_id}: unknown DL/T 645 items {unknown}; "
                             f"known: {', '.join(dlt645.ITEMS_BY_NAME)}")


@dataclass(frozen=True, kw_only=True)
class Cjt188Device:
    """A CJ/T 188-2004 water meter; address AAAAAAAAAAAAAA reads the only meter on the line."""

    protocol: ClassVar[str] = "cjt188"
    device_id: str
    address: str  # 14 digits from the nameplate
    meter_type: int = 0x10  # cold water
    timeout: float = 0.5
    retries: int = 1
    preamble: int = 4
    di_low_first: bool = True  # send 901F as "1F 90"; some meters want "90 1F"

    def __post_init__(self) -> None:
        _check_common(self.device_id, self.timeout, self.retries, self.preamble)
        address_to_wire(self.address, 7)
        object.__setattr__(self, "address", self.address.upper())
        if self.meter_type not in cjt188.WATER_TYPES:
            raise ValueError(f"{self.device_id}: meter type {self.meter_type:02X}h is not a water meter "
                             "(10h-13h); only water meters are read")


DeviceSpec = Union[ModbusDevice, Dlt645Device, Cjt188Device]

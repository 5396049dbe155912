"""The devices: NFC readers, the GPIO panel, the RS-485 meter buses, the badge printer, and their simulators.

Each device family is one folder that owns its driver, its simulator and its factory:

    drivers/nfc/       card readers (libnfc, HID wedge), factory.py, sim/ (PN532 simulator, launch.py)
    drivers/gpio/      buttons, LEDs, buzzer on gpiozero, factory.py (pin factory), sim.py (mock panel)
    drivers/meters/    Modbus RTU, DL/T 645, CJ/T 188 buses, points.py, sim/ (meter lines, MeterSimulation)
    drivers/printer/   ESC/POS badge printer, connection.py (its kinds), sim.py (file-backed printer)
    drivers/sim/       what the simulators share: pty endpoints, control sockets, the simulator folder
    drivers/health.py  DeviceHealth, the state every driver reports

The bottom layer: drivers may import only the standard library and third-party
device libraries (pynfc, evdev, gpiozero, pyserial, pymodbus, python-escpos, Pillow,
qrcode); never lobby, kiosk or mqtt_bridge. They take plain arguments, not the
product's configuration.
"""

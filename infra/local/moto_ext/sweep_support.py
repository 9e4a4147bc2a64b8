"""What sweep-dangling needs of the emulator beyond moto (filled in by issue 6)."""


def install() -> None:
    pass

import pytest

from ticket_core.exceptions import InvalidValue
from ticket_core.priority import is_critical, priority

# SPEC §5: rows are criticality (high, medium, low), columns severity (blocking, major, minor).
MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}


@pytest.mark.parametrize(("criticality", "severity"), sorted(MATRIX))
def test_given_matrix_cell_then_priority_is_criticality_plus_severity_minus_one(criticality, severity):
    assert priority(criticality, severity) == MATRIX[(criticality, severity)]


def test_priorities_one_and_two_are_critical_three_to_five_normal():
    assert [is_critical(p) for p in range(1, 6)] == [True, True, False, False, False]


@pytest.mark.parametrize(("criticality", "severity", "field"), [(0, 1, "criticality"), (1, 4, "severity"), (True, 1, "criticality")])
def test_given_out_of_range_input_then_error_names_the_field(criticality, severity, field):
    with pytest.raises(InvalidValue) as err:
        priority(criticality, severity)
    assert err.value.field == field

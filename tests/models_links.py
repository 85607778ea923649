"""Models for the many-to-many tests: students take courses through a
soft-deletable enrollment link (``Relationship(link_model=...)``).

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin


class LkEnrollment(SQLModel, SoftDeleteMixin, table=True):
    student_id: int | None = Field(default=None, foreign_key="lkstudent.id", primary_key=True)
    course_id: int | None = Field(default=None, foreign_key="lkcourse.id", primary_key=True)


class LkStudent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    courses: list["LkCourse"] = Relationship(back_populates="students", link_model=LkEnrollment)


class LkCourse(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=50)
    students: list[LkStudent] = Relationship(back_populates="courses", link_model=LkEnrollment)

"""URLs of the seed's Django project: program 1's set, get and del views,
and the views the Go tests add (count, setall, getall, login)."""

from django.urls import path

from student import views

urlpatterns = [
    path("set/", views.setsession),
    path("get/", views.getsession),
    path("del/", views.delsession),
    path("flush/", views.flushsession),
    path("count/", views.count),
    path("setall/", views.setall),
    path("getall/", views.getall),
    path("login/", views.login),
]
